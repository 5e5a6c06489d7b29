"""A script's Runner with `DashboardCallback`, against a real fitboard server: live messages,
the dashboard's Stop and attach, a server restart, no server at all, a killed client.

In-process tests fit in a thread of the test; the kill tests run `script.py` as a process.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch.nn.functional as F
import websockets

from tests.fixtures.processes import ROOT, fitboard_env
from tests.fixtures.server import (
    LiveServer,
    finished,
    receive_until,
    wait_for_epoch,
    wait_for_status,
)
from trainer import (
    AvgStatsCallback,
    Callback,
    DashboardCallback,
    DataBunch,
    Learner,
    Runner,
    accuracy,
    get_data,
    get_model,
)

TIMEOUT = 120


class SlowBatches(Callback):
    """Each training batch takes at least `seconds`: the test can act while the fit runs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def after_batch(self) -> None:
        if self.run.in_train:
            time.sleep(self.seconds)


class HoldAt(Callback):
    """Holds the fit before each epoch in `gates` until its event is set: the test acts at a
    known point of the fit, however long a server takes to stop or start."""

    def __init__(self, gates: dict[int, threading.Event]) -> None:
        self.gates = gates

    def begin_epoch(self) -> None:
        gate = self.gates.get(self.run.epoch)
        if gate is not None:
            assert gate.wait(TIMEOUT), f"epoch {self.run.epoch} was never let go"


class Fit(threading.Thread):
    """`run.fit(epochs, learn)` on a thread of its own, as a notebook cell would."""

    def __init__(self, run: Runner, epochs: int) -> None:
        super().__init__(daemon=True)
        self.run_, self.epochs = run, epochs
        self.ended_at: float | None = None

    def run(self) -> None:
        x_train, y_train, x_valid, y_valid = get_data("digits")
        data = DataBunch.from_arrays(x_train, y_train, x_valid, y_valid, bs=64)
        learn = Learner(*get_model(data, lr=0.5), F.cross_entropy, data)
        self.run_.fit(self.epochs, learn)
        self.ended_at = time.monotonic()


def _fit(
    dashboard: DashboardCallback, epochs: int, batch_sleep: float = 0.01, *more: Callback
) -> Fit:
    run = Runner(
        cbs=[dashboard, SlowBatches(batch_sleep), *more],
        cb_funcs=[partial(AvgStatsCallback, [accuracy], verbose=False)],
    )
    fit = Fit(run, epochs)
    fit.start()
    return fit


def _registered(dashboard: DashboardCallback, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while dashboard.run_id is None:
        assert time.monotonic() < deadline, "the run never registered"
        time.sleep(0.02)
    return dashboard.run_id


def _events(server: LiveServer, run_id: str) -> list[dict[str, Any]]:
    return server.client().get(f"/api/runs/{run_id}/events", params={"limit": 10_000}).json()


def _assert_complete(events: list[dict[str, Any]], epochs: int) -> None:
    """A whole history: seq 1..n with no gap or repeat, every epoch once, one final status."""
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
    assert [m["epoch"] for m in events if m["type"] == "epoch"] == list(range(epochs))
    statuses = [m["status"] for m in events if m["type"] == "status"]
    assert statuses == ["running", "completed"]


@pytest.mark.timeout(TIMEOUT)
def test_every_epoch_is_live_on_the_runs_socket(server: LiveServer, tmp_path: Path) -> None:
    dashboard = DashboardCallback(
        server.url, name="notebook", params={"lr": 0.5}, spool_dir=tmp_path / "spool"
    )
    fit = _fit(dashboard, epochs=4)
    run_id = _registered(dashboard)

    async def watch() -> tuple[list[dict[str, Any]], list[bool]]:
        alive_at_epochs: list[bool] = []
        async with websockets.connect(server.ws_url(f"/ws/runs/{run_id}")) as ws:

            def note(message: dict[str, Any]) -> bool:
                if message["type"] == "epoch":
                    alive_at_epochs.append(fit.is_alive())
                return finished(message)

            return await receive_until(ws, note), alive_at_epochs

    messages, alive = asyncio.run(watch())
    fit.join(TIMEOUT)
    assert [m["epoch"] for m in messages if m["type"] == "epoch"] == [0, 1, 2, 3]
    assert alive[:3] == [True, True, True]  # seen while the script trained, not afterwards
    assert messages[-1]["status"] == "completed"
    epoch = next(m for m in messages if m["type"] == "epoch")
    assert set(epoch["train"]) == {"loss", "accuracy"} and len(epoch["batches"]["loss"]) > 0

    run = server.client().get(f"/api/runs/{run_id}").json()
    assert run["status"] == "completed" and run["external"] is True
    assert run["owner"].endswith(f":{__import__('os').getpid()}")
    assert run["name"] == "notebook" and run["params"] == {"lr": 0.5}
    assert run["latest"]["epoch"] == 3
    _assert_complete(_events(server, run_id), 4)
    assert dashboard.wait_delivered()
    assert not list((tmp_path / "spool").iterdir())  # delivered: no spool left behind


@pytest.mark.timeout(TIMEOUT)
def test_stop_over_rest_stops_the_script_at_its_next_batch(
    server: LiveServer, tmp_path: Path
) -> None:
    dashboard = DashboardCallback(server.url, spool_dir=tmp_path / "spool")
    fit = _fit(dashboard, epochs=50, batch_sleep=0.02)
    run_id = _registered(dashboard)
    time.sleep(0.3)
    client = server.client()
    asked = time.monotonic()
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 202
    fit.join(TIMEOUT)
    assert fit.ended_at is not None and fit.ended_at - asked < 2.0
    reason = fit.run_.stop_reason
    assert reason is not None and reason.source == "user"
    run = wait_for_status(client, run_id, "stopped")
    assert run["stop_reason"]["source"] == "user"
    assert run["stop_reason"]["epoch"] < 3


@pytest.mark.timeout(TIMEOUT)
def test_early_stopping_attached_from_the_api_stops_the_scripts_fit(
    server: LiveServer, tmp_path: Path
) -> None:
    dashboard = DashboardCallback(server.url, spool_dir=tmp_path / "spool")
    fit = _fit(dashboard, epochs=40, batch_sleep=0.005)
    run_id = _registered(dashboard)
    client = server.client()
    # An improvement must beat the best by a billion: none does, so it stops one epoch on.
    body = {"name": "early_stopping", "params": {"patience": 0, "min_delta": 1e9}}
    attached = client.post(f"/api/runs/{run_id}/callbacks", json=body)
    assert attached.status_code == 201, attached.text
    fit.join(TIMEOUT)
    reason = fit.run_.stop_reason
    assert reason is not None and reason.source == "early_stopping"
    run = wait_for_status(client, run_id, "early_stopped")
    assert run["stop_reason"]["source"] == "early_stopping"
    assert [cb["name"] for cb in run["callbacks"]] == ["early_stopping"]
    events = _events(server, run_id)
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
    kinds = [m["type"] for m in events]
    assert "callback" in kinds and kinds.index("callback") < kinds.index("early_stop")


@pytest.mark.timeout(TIMEOUT)
def test_a_hyperparameter_set_from_the_api_reaches_the_scripts_optimizer(
    server: LiveServer, tmp_path: Path
) -> None:
    dashboard = DashboardCallback(server.url, spool_dir=tmp_path / "spool")
    fit = _fit(dashboard, epochs=50, batch_sleep=0.02)
    run_id = _registered(dashboard)
    client = server.client()
    assert client.patch(f"/api/runs/{run_id}/hypers", json={"lr": 0.05}).status_code == 202
    deadline = time.monotonic() + 30
    while not [m for m in _events(server, run_id) if m["type"] == "hyper"]:
        assert time.monotonic() < deadline, "no hyper message"
        time.sleep(0.05)
    assert fit.run_.opt.param_groups[0]["lr"] == 0.05
    client.post(f"/api/runs/{run_id}/stop")
    fit.join(TIMEOUT)
    hyper = next(m for m in _events(server, run_id) if m["type"] == "hyper")
    assert hyper["values"] == {"lr": 0.05} and hyper["missing"] == []


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_a_server_restart_mid_run_leaves_a_complete_history(
    server: LiveServer, tmp_path: Path
) -> None:
    dashboard = DashboardCallback(server.url, spool_dir=tmp_path / "spool")
    # Epochs 0-2 train with the server up, 3-5 with it down, 6-7 after it is back.
    server_down, server_back = threading.Event(), threading.Event()
    fit = _fit(dashboard, 8, 0.01, HoldAt({3: server_down, 6: server_back}))
    run_id = _registered(dashboard)
    wait_for_epoch(server.client(), run_id, 2)
    server.stop()  # the script trains on; its messages wait in the spool
    server_down.set()
    time.sleep(1.0)
    assert fit.is_alive()
    server.start()  # same port and database
    server_back.set()
    fit.join(TIMEOUT)
    run = wait_for_status(server.client(), run_id, "completed")
    assert run["latest"]["epoch"] == 7
    _assert_complete(_events(server, run_id), 8)


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_a_run_with_no_server_is_uploaded_by_fitboard_sync(
    server_factory: Callable[..., LiveServer], database_url: str, tmp_path: Path
) -> None:
    nowhere = "http://127.0.0.1:9"  # discard: nothing listens
    spool = tmp_path / "spool"
    out = _script(nowhere, spool, database_url, "--epochs", "3")
    (line,) = [line for line in out.splitlines() if line.startswith("result ")]
    result = json.loads(line.removeprefix("result "))
    assert "upload them with `fitboard sync" in out  # the script said where its messages are
    assert result == {"run_id": None, "stop_reason": None}  # trained, never registered
    (path,) = spool.iterdir()

    server = server_factory()
    synced = subprocess.run(
        [sys.executable, "-m", "app.cli", "sync", str(path), "--server", server.url],
        capture_output=True, text=True, env=fitboard_env(database_url), cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stdout + synced.stderr
    run_id = synced.stdout.split("uploaded as run ")[1].split()[0]
    events = _events(server, run_id)
    _assert_complete(events, 3)
    recorded = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    assert not recorded  # delivered: the spool is gone
    run = server.client().get(f"/api/runs/{run_id}").json()
    assert run["status"] == "completed" and run["name"] == "script"


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_a_killed_client_leaves_its_run_interrupted_after_the_heartbeat(
    server_factory: Callable[..., LiveServer], database_url: str, tmp_path: Path
) -> None:
    server = server_factory(heartbeat_timeout_s=2)
    proc = _script_process(
        server.url, tmp_path, database_url, "--epochs", "500", "--batch-sleep", "0.01"
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().split()[1]
        assert proc.stdout.readline().startswith("epoch 0")
        proc.kill()  # SIGKILL: no final status, no goodbye
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
    client = server.client()
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "running"
    run = wait_for_status(client, run_id, "interrupted", timeout=15)
    assert run["stop_reason"]["source"] == "heartbeat"
    events = _events(server, run_id)
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "status" and events[-1]["status"] == "interrupted"
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 409


def _script_process(url: str, spool: Path, database_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.app.external.script", url, str(spool), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=fitboard_env(database_url), cwd=ROOT,
    )  # fmt: skip


def _script(url: str, spool: Path, database_url: str, *args: str) -> str:
    proc = _script_process(url, spool, database_url, *args)
    out, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, out
    return out


@pytest.mark.timeout(TIMEOUT)
def test_pause_and_resume_from_the_api_hold_the_scripts_loop(
    server: LiveServer, tmp_path: Path
) -> None:
    dashboard = DashboardCallback(server.url, spool_dir=tmp_path / "spool")
    fit = _fit(dashboard, epochs=50, batch_sleep=0.02)
    run_id = _registered(dashboard)
    client = server.client()
    time.sleep(0.3)
    assert client.post(f"/api/runs/{run_id}/pause").status_code == 202
    wait_for_status(client, run_id, "paused")
    held_at = fit.run_.n_iter
    time.sleep(0.5)
    assert fit.run_.paused and fit.run_.n_iter == held_at  # it holds
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 202
    wait_for_status(client, run_id, "running")
    client.post(f"/api/runs/{run_id}/stop")
    fit.join(TIMEOUT)
    assert wait_for_status(client, run_id, "stopped")["stop_reason"]["iter"] > held_at
    statuses = [m for m in _events(server, run_id) if m["type"] == "status"]
    assert [m["status"] for m in statuses] == ["running", "paused", "running", "stopped"]
    assert statuses[1]["iter"] == statuses[2]["iter"] == held_at

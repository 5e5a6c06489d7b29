"""Recovery at start is ownership-aware: a server or `fitboard run` interrupts only the queued
and running runs whose owning process is gone, never those another live process trains."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import RunStatus, Store, init_db, make_engine
from app.db.models import RunRow
from app.runs.owners import interrupt_orphans, owner_is_gone, this_process
from tests.fixtures.processes import ROOT, fitboard_env
from tests.fixtures.server import LiveServer, wait_for_epoch, wait_for_status

TIMEOUT = 120
HOST = socket.gethostname()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    init_db(engine)
    yield engine
    engine.dispose()


def _row(database_url: str, run_id: str) -> RunRow:
    """The run as the database holds it now, read on a connection of its own."""
    engine = make_engine(database_url)
    try:
        row = Store(engine).get_run(run_id)
    finally:
        engine.dispose()
    assert row is not None, f"no run {run_id}"
    return row


def _python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = _python("pass")
    proc.wait(timeout=30)
    return proc.pid


def _terminal_run(database_url: str, data_dir: Path) -> subprocess.Popen[str]:
    """`fitboard run` training for several seconds in its own process, on this database."""
    env = fitboard_env(database_url)
    args = ["run", "mlp", "--set", "epochs=50", "--set", "bs=8", "--data-dir", str(data_dir)]
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _wait_training(proc: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """Read the terminal's output until its first epoch is done; the run's id and the lines."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("epoch 1/"):
            return lines[0].split()[1], lines
    raise AssertionError(f"`fitboard run` exited {proc.wait()} before training:\n{''.join(lines)}")


# --- who counts as gone ---------------------------------------------------------------------


def test_owner_is_gone_only_when_its_process_cannot_be_training() -> None:
    me = this_process()
    live = _python("import time; time.sleep(60)")
    try:
        assert me == f"{HOST}:{os.getpid()}"
        assert not owner_is_gone(f"{HOST}:{live.pid}", me)
        assert not owner_is_gone(f"{HOST}:{os.getppid()}", me)  # alive, maybe another user's
        assert owner_is_gone(f"{HOST}:{_dead_pid()}", me)
        assert owner_is_gone(me, me)  # an earlier life of this very process
        assert owner_is_gone(None, me)  # rows from before owners were recorded
        assert owner_is_gone(f"another-{HOST}:{live.pid}", me)  # single-host deployment
        assert owner_is_gone("garbage", me) and owner_is_gone(f"{HOST}:0", me)
    finally:
        live.kill()
        live.wait(timeout=30)


def test_recovery_interrupts_only_the_runs_of_gone_owners(engine: Engine) -> None:
    store = Store(engine)
    live = _python("import time; time.sleep(60)")
    try:
        owners = {
            "live": f"{HOST}:{live.pid}",
            "dead": f"{HOST}:{_dead_pid()}",
            "mine": this_process(),
            "legacy": None,
            "elsewhere": f"another-{HOST}:{live.pid}",
        }
        for run_id, owner in owners.items():
            store.create_run(run_id=run_id, name=run_id, recipe="mlp", params={}, owner=owner)
            store.transition(run_id, from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
        store.create_run(run_id="queued", name="q", recipe="mlp", params={}, owner=owners["dead"])
        store.create_run(run_id="done", name="d", recipe="mlp", params={}, owner=owners["dead"])
        store.transition("done", from_=[RunStatus.QUEUED], to=RunStatus.COMPLETED)

        interrupted = interrupt_orphans(store, this_process())

        assert sorted(interrupted) == ["dead", "elsewhere", "legacy", "mine", "queued"]
        statuses = {run.id: run.status for run in store.list_runs()[0]}
        assert statuses == {
            "live": "running",
            "dead": "interrupted",
            "mine": "interrupted",
            "legacy": "interrupted",
            "elsewhere": "interrupted",
            "queued": "interrupted",
            "done": "completed",
        }
        assert interrupt_orphans(store, this_process()) == []
    finally:
        live.kill()
        live.wait(timeout=30)


def test_finishing_a_run_needs_its_owner(engine: Engine) -> None:
    store = Store(engine)
    store.create_run(run_id="r", name="r", recipe="mlp", params={}, owner="a:1")
    assert not store.transition("r", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING, held_by="b:2")
    assert store.transition("r", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING, held_by="a:1")
    # Someone else took the run over (resumed it elsewhere): the old owner's end changes nothing.
    assert store.transition("r", from_=[RunStatus.RUNNING], to=RunStatus.RUNNING, owner="b:2")
    assert not store.transition(
        "r", from_=[RunStatus.RUNNING], to=RunStatus.COMPLETED, held_by="a:1", error=None
    )
    row = store.get_run("r")
    assert row is not None and row.status == "running" and row.owner == "b:2"


# --- real processes on one database ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_a_server_leaves_a_live_terminal_run_alone(
    database_url: str, tmp_path: Path, server_factory: Callable[..., LiveServer]
) -> None:
    proc = _terminal_run(database_url, tmp_path / "data")
    try:
        run_id, _ = _wait_training(proc)
        client = server_factory().client()  # its manager starts (and recovers) here
        run = client.get(f"/api/runs/{run_id}").json()
        assert run["status"] == "running", run
        assert _row(database_url, run_id).owner == f"{HOST}:{proc.pid}"
        assert client.post(f"/api/runs/{run_id}/stop").status_code == 409  # not the server's

        assert proc.stdout is not None
        rest = proc.stdout.read()
        assert proc.wait(timeout=TIMEOUT) == 0, rest
        assert f"run {run_id} completed" in rest
        done = wait_for_status(client, run_id, "completed", "interrupted", "failed")
        assert done["status"] == "completed" and done["latest"]["epoch"] == 49
        statuses = [
            m["status"]
            for m in client.get(f"/api/runs/{run_id}/events").json()
            if m["type"] == "status"
        ]
        assert statuses == ["queued", "running", "completed"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_a_killed_terminal_run_is_interrupted_at_the_next_start(
    database_url: str, tmp_path: Path, server_factory: Callable[..., LiveServer]
) -> None:
    proc = _terminal_run(database_url, tmp_path / "data")
    try:
        run_id, _ = _wait_training(proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)  # reaped: a zombie would still answer os.kill(pid, 0)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    assert _row(database_url, run_id).status == "running"  # nobody recorded its end

    client = server_factory().client()
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "interrupted" and run["finished_at"] is not None
    events = client.get(f"/api/runs/{run_id}/events").json()
    assert events[-1]["type"] == "status" and events[-1]["status"] == "interrupted"
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_a_terminal_run_leaves_the_servers_runs_alone(
    database_url: str, tmp_path: Path, server_factory: Callable[..., LiveServer]
) -> None:
    client = server_factory().client()
    # Long enough (bs 2: minutes) to outlast a terminal run's start on a loaded machine.
    created = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 100, "bs": 2}})
    assert created.status_code == 201, created.text
    server_run = created.json()["id"]
    wait_for_epoch(client, server_run, 0)

    proc = _terminal_run(database_url, tmp_path / "data")
    try:
        _wait_training(proc)  # its manager has started (and recovered) by now
        assert client.get(f"/api/runs/{server_run}").json()["status"] == "running"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert client.post(f"/api/runs/{server_run}/stop").status_code == 202
    assert wait_for_status(client, server_run, "stopped")["stop_reason"]["source"] == "user"


@pytest.mark.timeout(TIMEOUT)
def test_a_run_changed_by_another_process_keeps_that_change(
    database_url: str, server_factory: Callable[..., LiveServer]
) -> None:
    client = server_factory(workers=1).client()
    created = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 100, "bs": 8}})
    run_id = created.json()["id"]
    wait_for_status(client, run_id, "running")
    engine = make_engine(database_url)
    try:  # another writer (say, a server on another host starting) interrupts it
        assert Store(engine).transition(run_id, from_=[RunStatus.RUNNING], to=RunStatus.INTERRUPTED)
    finally:
        engine.dispose()

    assert client.post(f"/api/runs/{run_id}/stop").status_code == 202  # still trained here
    events = []
    for _ in range(600):
        events = client.get(f"/api/runs/{run_id}/events").json()
        if events and events[-1]["type"] == "status" and events[-1]["status"] == "interrupted":
            break
        time.sleep(0.05)
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "interrupted" and run["stop_reason"] is None  # not clobbered
    assert events[-1]["status"] == "interrupted"
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))

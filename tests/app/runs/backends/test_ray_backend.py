"""FITBOARD_BACKEND=ray against a real local Ray: each run trains in an actor process of its
own, and the dashboard's control reaches it at the next batch as on threads."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import websockets

from app.config import Settings
from tests.fixtures.processes import ServerProcess, fitboard_env
from tests.fixtures.ray import named_actors
from tests.fixtures.server import (
    LiveServer,
    finished,
    receive_until,
    server_settings,
    wait_for_epoch,
    wait_for_status,
)

pytestmark = [pytest.mark.ray, pytest.mark.timeout(180)]

SEEDED = {"recipe": "mlp", "params": {"epochs": 3, "bs": 32, "seed": 7}}
LONG = {"recipe": "mlp", "params": {"epochs": 100, "bs": 8}}


def _valid_losses(server: LiveServer, run_id: str) -> list[float]:
    metrics = server.client().get(f"/api/runs/{run_id}/metrics").raise_for_status().json()
    return [epoch["valid"]["loss"] for epoch in metrics["epochs"]]


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_a_run_trains_in_its_own_process_with_the_same_result_as_on_threads(
    ray_server: LiveServer, tmp_path: Path
) -> None:
    client = ray_server.client()
    run = client.post("/api/runs", json=SEEDED).raise_for_status().json()
    assert run["resources"] == {"cpus": 1.0, "gpus": 0.0}  # the settings' defaults
    done = wait_for_status(client, run["id"], "completed")
    placement = done["placement"]
    assert placement["backend"] == "ray" and placement["node"]
    assert placement["pid"] != os.getpid()  # not the server's process

    threads_db = f"sqlite:///{tmp_path / 'threads.db'}"
    with LiveServer(server_settings(threads_db, tmp_path / "threads")) as on_threads:
        baseline = on_threads.client().post("/api/runs", json=SEEDED).json()
        wait_for_status(on_threads.client(), baseline["id"], "completed")
        expected = _valid_losses(on_threads, baseline["id"])
    assert len(expected) == 3
    assert _valid_losses(ray_server, run["id"]) == expected


def test_every_message_arrives_numbered_without_gap_and_stop_ends_at_the_next_batch(
    ray_server: LiveServer,
) -> None:
    client = ray_server.client()
    run = client.post("/api/runs", json=LONG).json()

    async def watch_then_stop() -> tuple[list[dict[str, Any]], float]:
        async with websockets.connect(ray_server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            seen = await receive_until(ws, lambda m: m["type"] == "epoch")
            asked = time.monotonic()
            assert client.post(f"/api/runs/{run['id']}/stop").status_code == 202
            seen += await receive_until(ws, finished)
            return seen, time.monotonic() - asked

    messages, latency = asyncio.run(watch_then_stop())
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no duplicate
    final = messages[-1]
    assert final["status"] == "stopped" and final["stop_reason"]["source"] == "user"
    assert latency < 2.0
    stored = client.get(f"/api/runs/{run['id']}/events", params={"limit": 10_000}).json()
    assert [e["seq"] for e in stored] == list(range(stored[0]["seq"], seqs[-1] + 1))


def test_early_stopping_attached_live_stops_the_actor_with_its_reason(
    ray_server: LiveServer,
) -> None:
    client = ray_server.client()
    run = client.post("/api/runs", json=LONG).json()
    wait_for_epoch(client, run["id"], 1)
    callback = {"name": "early_stopping", "params": {"patience": 0, "min_delta": 1e6}}
    assert client.post(f"/api/runs/{run['id']}/callbacks", json=callback).status_code == 201
    done = wait_for_status(client, run["id"], "early_stopped", timeout=60)
    assert done["stop_reason"]["source"] == "early_stopping"
    assert done["latest"]["epoch"] < 100


def test_pause_holds_the_actor_and_resume_lets_it_finish(ray_server: LiveServer) -> None:
    client = ray_server.client()
    run = client.post("/api/runs", json={**LONG, "params": {"epochs": 3, "bs": 8}}).json()
    wait_for_status(client, run["id"], "running")
    assert client.post(f"/api/runs/{run['id']}/pause").status_code == 202
    paused = wait_for_status(client, run["id"], "paused")
    time.sleep(0.5)
    assert client.get(f"/api/runs/{run['id']}").json()["latest"] == paused["latest"]
    assert client.post(f"/api/runs/{run['id']}/resume").status_code == 202
    wait_for_status(client, run["id"], "completed")
    assert len(client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]) == 3


def test_a_fork_of_a_run_in_an_actor_starts_in_its_own_actor_from_the_snapshot(
    ray_server: LiveServer,
) -> None:
    client = ray_server.client()
    body = {**SEEDED, "params": {"epochs": 4, "bs": 8, "seed": 7}}
    body["callbacks"] = [{"name": "checkpoint", "params": {}}]
    parent = client.post("/api/runs", json=body).json()
    wait_for_epoch(client, parent["id"], 0)
    fork = client.post(f"/api/runs/{parent['id']}/fork", json={})
    assert fork.status_code == 201, fork.text
    child = fork.json()
    assert child["parent_id"] == parent["id"] and child["fork_point"]["iter"] > 0
    for run in (parent, child):
        wait_for_status(client, run["id"], "completed", timeout=120)
    # Another actor, the same end: the snapshot crossed processes whole.
    assert _valid_losses(ray_server, child["id"])[-1] == _valid_losses(ray_server, parent["id"])[-1]
    first = _valid_losses(ray_server, child["id"])
    assert len(first) == 4 - child["fork_point"]["epoch"]


def test_a_killed_actor_fails_its_run_with_rays_cause(ray_server: LiveServer) -> None:
    client = ray_server.client()
    run = client.post("/api/runs", json=LONG).json()
    running = wait_for_epoch(client, run["id"], 1)
    os.kill(running["placement"]["pid"], signal.SIGKILL)
    failed = wait_for_status(client, run["id"], "failed", timeout=30)
    assert "Ray actor died" in failed["error"] and "ActorDiedError" in failed["error"]


def test_a_killed_actor_with_a_checkpoint_is_interrupted_and_resumes_elsewhere(
    ray_server: LiveServer,
) -> None:
    client = ray_server.client()
    body = {**LONG, "params": {"epochs": 8, "bs": 8}, "callbacks": [{"name": "checkpoint"}]}
    run = client.post("/api/runs", json=body).json()
    first = wait_for_epoch(client, run["id"], 2)
    os.kill(first["placement"]["pid"], signal.SIGKILL)
    lost = wait_for_status(client, run["id"], "interrupted", timeout=30)
    assert lost["stop_reason"]["source"] == "lost"
    assert "Ray actor died" in lost["stop_reason"]["message"]

    assert client.post(f"/api/runs/{run['id']}/resume").status_code == 202
    done = wait_for_status(client, run["id"], "completed", timeout=120)
    assert done["placement"]["pid"] != first["placement"]["pid"]  # a new actor
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    numbers = [e["epoch"] for e in epochs]
    assert numbers == sorted(set(numbers)) and len(numbers) == 8  # every planned epoch, once


def test_runs_wait_queued_until_ray_has_their_cpus_then_run_in_order(
    ray_server: LiveServer,
) -> None:
    client = ray_server.client()
    body = {**LONG, "params": {"epochs": 2, "bs": 8}, "resources": {"cpus": 1}}
    runs = [client.post("/api/runs", json=body).json() for _ in range(3)]
    wait_for_status(client, runs[0]["id"], "running")
    wait_for_status(client, runs[1]["id"], "running")
    third = client.get(f"/api/runs/{runs[2]['id']}").json()
    assert third["status"] == "queued" and third["placement"] is None  # 2 CPUs, 2 taken
    done = [wait_for_status(client, r["id"], "completed", timeout=120) for r in runs]
    assert done[2]["started_at"] >= min(done[0]["finished_at"], done[1]["finished_at"])


def test_resources_the_cluster_cannot_give_are_a_422_naming_the_field(
    ray_server: LiveServer,
) -> None:
    client = ray_server.client()
    for resources, field, words in [
        ({"gpus": 1}, "gpus", "largest node has 0"),
        ({"cpus": 3}, "cpus", "largest node has 2"),
        ({"cpus": -1}, "cpus", "greater than or equal to 0"),
    ]:
        response = client.post("/api/runs", json={**SEEDED, "resources": resources})
        assert response.status_code == 422, resources
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "resources", field] and words in error["msg"]
    assert client.get("/api/runs").json()["total"] == 0  # nothing was created


def test_server_shutdown_interrupts_runs_and_leaves_no_actor(ray_server: LiveServer) -> None:
    client = ray_server.client()
    run = client.post("/api/runs", json=LONG).json()
    waiting = client.post("/api/runs", json={**LONG, "resources": {"cpus": 2}}).json()
    wait_for_epoch(client, run["id"], 1)
    assert f"run-{run['id']}" in named_actors()
    ray_server.restart()
    client = ray_server.client()
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "interrupted"
    assert client.get(f"/api/runs/{waiting['id']}").json()["status"] == "interrupted"
    _wait_until(lambda: not named_actors(), 10, "no fitboard actor is left")


def test_an_unknown_backend_is_a_startup_error_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="backend"):
        Settings(backend="slurm")  # type: ignore[arg-type]


def test_without_ray_installed_the_error_names_the_extra(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['ray'] = None\n"  # what `import ray` meets when it is absent
        "from app.config import Settings\n"
        "from app.catalog import callback_catalog, recipe_registry\n"
        "from app.runs.backends import make_backend\n"
        f"settings = Settings(backend='ray', data_dir={str(tmp_path)!r})\n"
        "make_backend(settings, recipe_registry, callback_catalog)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=fitboard_env(f"sqlite:///{tmp_path / 'x.db'}"),
        timeout=60,
    )
    assert result.returncode == 1
    assert "pip install 'fitboard[ray]'" in result.stderr.splitlines()[-1]


@pytest.mark.slow
def test_fitboard_serve_starts_its_own_ray_and_stops_its_runs_on_sigterm(tmp_path: Path) -> None:
    # FITBOARD_RAY_ADDRESS unset: the server starts a local Ray of its own (`ray.init` sets a
    # SIGTERM handler of its own when called on the main thread: fitboard keeps uvicorn's).
    env = {"FITBOARD_BACKEND": "ray", "RAY_ADDRESS": ""}
    database_url = f"sqlite:///{tmp_path / 'fitboard.db'}"
    server = ServerProcess(database_url, tmp_path / "data", env=env)
    try:
        assert server.client.get("/api/health").json()["backend"] == "ray"
        run = server.client.post("/api/runs", json=LONG).json()
        running = wait_for_epoch(server.client, run["id"], 1)
        assert running["placement"]["pid"] != server.proc.pid
    finally:
        server.stop()  # SIGTERM: runs stop at their next batch, as with threads
    # uvicorn re-raises the SIGTERM once it has shut down gracefully (Ray's would exit 15).
    assert server.proc.returncode in (0, -signal.SIGTERM)
    with LiveServer(server_settings(database_url, tmp_path / "data")) as after:
        stopped = after.client().get(f"/api/runs/{run['id']}").json()
    assert stopped["status"] == "interrupted"
    assert stopped["stop_reason"]["source"] == "shutdown"


def test_a_sweep_runs_its_trials_in_actors_as_many_at_once_as_the_cluster_has_cpus(
    ray_server: LiveServer,
) -> None:
    import ray

    # Actors of the tests before may still be giving their CPUs back: the overlap below is
    # only owed once both of the cluster's CPUs are free.
    _wait_until(lambda: ray.available_resources().get("CPU", 0) >= 2, 60, "both CPUs are free")
    client = ray_server.client()
    health = client.get("/api/health").json()
    assert (health["backend"], health["workers"]) == ("ray", 2)  # the cluster's CPUs
    body = {
        "recipe": "mlp",
        # Trials that train for seconds: actors start with a jitter of up to half a second.
        "params": {"epochs": 3, "bs": 8},
        "space": {"lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True}},
        "objective": "valid.accuracy",
        "direction": "max",
        "n_trials": 4,
        "parallel": 2,
        "pruner": "none",
        "seed": 0,
    }
    created = client.post("/api/sweeps", json=body)
    assert created.status_code == 201, created.text
    sweep_id = created.json()["id"]
    _wait_until(
        lambda: client.get(f"/api/sweeps/{sweep_id}").json()["status"] != "running",
        150,
        "the sweep ends",
    )
    sweep = client.get(f"/api/sweeps/{sweep_id}").json()
    assert sweep["status"] == "completed", sweep
    assert [t["state"] for t in sweep["trials"]] == ["complete"] * 4
    runs = [client.get(f"/api/runs/{t['run_id']}").json() for t in sweep["trials"]]
    for run in runs:
        assert run["placement"]["backend"] == "ray"
        assert run["placement"]["pid"] != os.getpid()  # an actor, not the server's thread
    # Two trials trained at the same time: `parallel` is limited by the cluster's 2 CPUs.
    spans = sorted(
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"]))
        for r in runs
    )
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), spans

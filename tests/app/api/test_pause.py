"""Pause and resume a live run over REST: it holds at a batch boundary, sends nothing while
paused, and ends with the same weights as a run never paused."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import websockets

from tests.fixtures.server import (
    LiveServer,
    finished,
    receive_until,
    wait_for_epoch,
    wait_for_status,
)
from trainer import load_checkpoint

pytestmark = pytest.mark.timeout(120)

BODY = {
    "recipe": "mlp",
    "params": {"epochs": 4, "bs": 8, "seed": 3},
    "callbacks": [{"name": "checkpoint", "params": {}}],
}


def _weights(server: LiveServer, run_id: str) -> dict[str, torch.Tensor]:
    path = Path(server.settings.run_dir(run_id)) / "last.pt"
    return load_checkpoint(path)["model"]  # type: ignore[no-any-return]


def _is_status(status: str) -> Any:
    return lambda m: m["type"] == "status" and m["status"] == status


def test_pause_holds_the_run_and_resume_ends_it_as_if_never_paused(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json=BODY).json()

    async def pause_then_resume() -> tuple[list[dict], list[dict], list[dict]]:
        async with websockets.connect(server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            await receive_until(ws, lambda m: m["type"] == "batch")
            assert client.post(f"/api/runs/{run['id']}/pause").status_code == 202
            before = await receive_until(ws, _is_status("paused"))
            quiet = []
            with pytest.raises(asyncio.TimeoutError):
                while True:
                    quiet.append(json.loads(await asyncio.wait_for(ws.recv(), 2.0)))
            assert client.post(f"/api/runs/{run['id']}/resume").status_code == 202
            after = await receive_until(ws, finished)
            return before, quiet, after

    before, quiet, after = asyncio.run(pause_then_resume())
    paused = before[-1]
    assert isinstance(paused["epoch"], int) and paused["iter"] > 0
    assert quiet == []  # not one message in 2 s of pause
    assert after[0]["type"] == "status" and after[0]["status"] == "running"
    assert after[0]["iter"] == paused["iter"]  # went on at the boundary where it held
    assert after[-1]["status"] == "completed"
    assert wait_for_status(client, run["id"], "completed")["latest"]["epoch"] == 3

    twin = client.post("/api/runs", json=BODY).json()  # same seed, never paused
    wait_for_status(client, twin["id"], "completed")
    mine, theirs = _weights(server, run["id"]), _weights(server, twin["id"])
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_a_paused_run_can_be_stopped(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json=BODY).json()
    wait_for_status(client, run["id"], "running")
    client.post(f"/api/runs/{run['id']}/pause").raise_for_status()
    wait_for_status(client, run["id"], "paused")
    started = time.monotonic()
    assert client.post(f"/api/runs/{run['id']}/stop").status_code == 202
    stopped = wait_for_status(client, run["id"], "stopped")
    assert time.monotonic() - started < 5
    assert stopped["stop_reason"]["source"] == "user"
    statuses = [m["status"] for m in client.get(f"/api/runs/{run['id']}/events").json()
                if m["type"] == "status"]  # fmt: skip
    assert statuses[-2:] == ["paused", "stopped"]  # not a moment of "running" between


def test_pausing_or_resuming_in_the_wrong_state_is_a_409_naming_it(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    wait_for_status(client, run["id"], "completed")
    for action in ("pause", "resume"):
        response = client.post(f"/api/runs/{run['id']}/{action}")
        assert response.status_code == 409
        assert response.json()["status"] == "completed" and "completed" in response.json()["detail"]
    assert client.post("/api/runs/nope/pause").status_code == 404
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "completed"


def test_a_run_paused_too_long_frees_its_worker_and_can_resume_from_its_checkpoint(
    server_factory: Any,
) -> None:
    server = server_factory(pause_timeout_s=1.0)
    client = server.client()
    body = {**BODY, "params": {"epochs": 30, "bs": 8, "seed": 3}}
    run = client.post("/api/runs", json=body).json()
    wait_for_epoch(client, run["id"], 1)  # a checkpoint exists
    client.post(f"/api/runs/{run['id']}/pause").raise_for_status()
    wait_for_status(client, run["id"], "paused")
    timed_out = wait_for_status(client, run["id"], "interrupted", timeout=10)
    reason = timed_out["stop_reason"]
    assert reason["source"] == "pause_timeout" and "FITBOARD_PAUSE_TIMEOUT_S" in reason["message"]
    assert client.get("/api/health").json()["running"] == 0  # the worker is free
    client.post(f"/api/runs/{run['id']}/resume").raise_for_status()
    wait_for_status(client, run["id"], "running")


def test_resuming_in_time_cancels_the_pause_timeout(server_factory: Any) -> None:
    server = server_factory(pause_timeout_s=1.0)
    client = server.client()
    run = client.post("/api/runs", json={**BODY, "params": {"epochs": 6, "bs": 8}}).json()
    wait_for_status(client, run["id"], "running")
    client.post(f"/api/runs/{run['id']}/pause").raise_for_status()
    wait_for_status(client, run["id"], "paused")
    client.post(f"/api/runs/{run['id']}/resume").raise_for_status()
    assert wait_for_status(client, run["id"], "completed")["stop_reason"] is None

"""POST /api/runs/{id}/evaluate: validation at the next batch of a live run, reported in an
`evaluation` message, with the run's training untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch
import websockets

from tests.fixtures.server import LiveServer, finished, receive_until, wait_for_status
from trainer import load_checkpoint

pytestmark = pytest.mark.timeout(120)

BODY = {
    "recipe": "mlp",
    "params": {"epochs": 3, "bs": 8, "seed": 5},
    "callbacks": [{"name": "checkpoint", "params": {}}],
}


def test_evaluate_now_reports_valid_stats_and_leaves_training_untouched(
    server: LiveServer,
) -> None:
    client = server.client()
    run = client.post("/api/runs", json=BODY).json()

    async def evaluate() -> list[dict]:
        async with websockets.connect(server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            await receive_until(ws, lambda m: m["type"] == "batch")
            assert client.post(f"/api/runs/{run['id']}/evaluate").status_code == 202
            return await receive_until(ws, finished)

    messages = asyncio.run(evaluate())
    (evaluation,) = [m for m in messages if m["type"] == "evaluation"]
    assert set(evaluation["valid"]) == {"loss", "accuracy"} and evaluation["iter"] > 0
    assert 0 < evaluation["valid"]["loss"] < 10 and 0 <= evaluation["valid"]["accuracy"] <= 1
    assert len([m for m in messages if m["type"] == "epoch"]) >= 1  # epochs still validate

    twin = client.post("/api/runs", json=BODY).json()
    wait_for_status(client, twin["id"], "completed")
    wait_for_status(client, run["id"], "completed")
    path = lambda run_id: Path(server.settings.run_dir(run_id)) / "last.pt"
    mine, theirs = (
        load_checkpoint(path(run["id"]))["model"],
        load_checkpoint(path(twin["id"]))["model"],
    )
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_evaluating_a_run_that_is_not_running_is_a_409(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    wait_for_status(client, run["id"], "completed")
    response = client.post(f"/api/runs/{run['id']}/evaluate")
    assert response.status_code == 409 and response.json()["status"] == "completed"

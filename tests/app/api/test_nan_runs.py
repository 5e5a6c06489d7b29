"""A run whose loss is NaN, training beside a healthy one: nothing of either is lost, and
everything on the wire and in the database is strict JSON (NaN becomes null)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
import websockets

from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)

EPOCHS = 6


def _strict(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON: {text[:200]}")

    return json.loads(text, parse_constant=refuse)  # type: ignore[arg-type]


def test_a_nan_run_beside_a_healthy_one_loses_nothing(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(recipe_modules=["tests.app.runs.failing_recipes"], workers=2)
    client = server.client()
    body = {"params": {"epochs": EPOCHS, "bs": 16}}
    nan = client.post("/api/runs", json={"recipe": "nan_model", **body}).json()
    healthy = client.post("/api/runs", json={"recipe": "mlp", **body}).json()

    async def watch(run_id: str) -> list[dict]:
        frames = []
        async with websockets.connect(server.ws_url(f"/ws/runs/{run_id}")) as ws:
            while True:
                message = _strict(await ws.recv())
                frames.append(message)
                if message["type"] == "status" and message["status"] not in ("queued", "running"):
                    return frames

    async def both() -> tuple[list[dict], list[dict]]:
        return await asyncio.gather(watch(nan["id"]), watch(healthy["id"]))

    live_nan, live_healthy = asyncio.run(both())
    for run, live in ((nan, live_nan), (healthy, live_healthy)):
        assert wait_for_status(client, run["id"], "completed")["error"] is None
        response = client.get(f"/api/runs/{run['id']}/events", params={"limit": 10000})
        saved = [_strict(json.dumps(m)) for m in response.json()]
        assert [m["seq"] for m in saved] == list(range(1, len(saved) + 1))
        assert [m["seq"] for m in live] == [m["seq"] for m in saved]  # nothing dropped
        assert [m["epoch"] for m in saved if m["type"] == "epoch"] == list(range(EPOCHS))
    nan_epochs = [m for m in live_nan if m["type"] == "epoch"]
    assert all(m["train"]["loss"] is None and m["valid"]["loss"] is None for m in nan_epochs)
    assert all(loss is None for m in nan_epochs for loss in m["batches"]["loss"])
    assert all(m["loss"] is None for m in live_nan if m["type"] == "batch")
    assert client.get(f"/api/runs/{nan['id']}").json()["latest"]["train"]["loss"] is None
    metrics = client.get(f"/api/runs/{nan['id']}/metrics").json()
    assert len(metrics["epochs"]) == EPOCHS and metrics["batches"][0]["loss"] is None

"""PATCH /api/runs/{id}/hypers: a live lr change at the next batch, acknowledged with the
iteration where it took effect; bad values and finished runs change nothing."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from tests.fixtures.server import LiveServer, finished, receive_until, wait_for_status

pytestmark = pytest.mark.timeout(120)

# bs=2: an epoch of digits lasts long enough (~0.3 s) to carry throttled `batch` messages.
LONG = {"recipe": "mlp", "params": {"epochs": 100, "bs": 2, "dataset": "digits", "lr": 0.5}}


def test_an_lr_edit_takes_effect_at_the_next_batch(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json=LONG).json()

    async def edit() -> tuple[dict, list[dict]]:
        async with websockets.connect(server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            first = (await receive_until(ws, lambda m: m["type"] == "batch"))[-1]
            assert first["lr"] == 0.5
            response = client.patch(f"/api/runs/{run['id']}/hypers", json={"lr": 0.05})
            assert response.status_code == 202
            hyper = (await receive_until(ws, lambda m: m["type"] == "hyper"))[-1]
            later = await receive_until(
                ws, lambda m: m["type"] == "epoch" and m["epoch"] > hyper["epoch"]
            )
            client.post(f"/api/runs/{run['id']}/stop").raise_for_status()
            await receive_until(ws, finished)
            return hyper, later

    hyper, later = asyncio.run(edit())
    assert hyper["values"] == {"lr": 0.05} and hyper["missing"] == []
    assert hyper["iter"] >= 1
    # Live batch samples go out at most every 0.25 s: on a fast machine none may fall between
    # the edit and the next epoch's end; those that do carry the new lr.
    assert all(m["lr"] == 0.05 for m in later if m["type"] == "batch")
    curve = later[-1]["batches"]
    assert curve["lr"] and all(lr == 0.05 for lr in curve["lr"])  # the whole next epoch


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lr": -0.1}, "lr"),
        ({"lr": 0}, "lr"),
        ({"betas": 0.9}, "betas"),
        ({"momentum": 2}, "momentum"),
    ],
)
def test_bad_values_are_a_422_naming_the_field(server: LiveServer, body: dict, field: str) -> None:
    client = server.client()
    run = client.post("/api/runs", json=LONG).json()
    wait_for_status(client, run["id"], "running")
    response = client.patch(f"/api/runs/{run['id']}/hypers", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    events = client.get(f"/api/runs/{run['id']}/events").json()
    assert not [m for m in events if m["type"] == "hyper"]
    client.post(f"/api/runs/{run['id']}/stop").raise_for_status()


def test_a_finished_run_is_a_409_naming_its_state(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    wait_for_status(client, run["id"], "completed")
    response = client.patch(f"/api/runs/{run['id']}/hypers", json={"lr": 0.1})
    assert response.status_code == 409 and response.json()["status"] == "completed"

"""Extending a finished run by more epochs, from its checkpoint, in the same run."""

from __future__ import annotations

import pytest

from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)

BODY = {
    "recipe": "mlp",
    "params": {"epochs": 5, "dataset": "digits", "bs": 64, "lr": 0.5},
    "callbacks": [{"name": "checkpoint", "params": {}}],
}


def test_extend_by_5_of_a_completed_5_epoch_run_ends_at_epoch_10_with_one_history(
    server: LiveServer,
) -> None:
    client = server.client()
    run_id = client.post("/api/runs", json=BODY).json()["id"]
    first = wait_for_status(client, run_id, "completed")
    response = client.post(f"/api/runs/{run_id}/extend", json={"epochs": 5})
    assert response.status_code == 202, response.text
    assert response.json()["params"]["epochs"] == 10
    done = wait_for_status(client, run_id, "completed")
    assert done["latest"]["epoch"] == 9 and done["params"]["epochs"] == 10
    assert done["duration"] > first["duration"]  # both stretches count
    epochs = client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    assert [e["epoch"] for e in epochs] == list(range(10))  # continuous, nothing repeated
    assert epochs[9]["valid"]["loss"] < epochs[0]["valid"]["loss"]
    events = client.get(f"/api/runs/{run_id}/events").json()
    (resumed,) = [m for m in events if m["type"] == "resumed"]
    assert resumed | {"seq": 0, "time": 0} == {
        "type": "resumed",
        "run_id": run_id,
        "seq": 0,
        "time": 0,
        "checkpoint": "last.pt",
        "after_epoch": 4,
        "epochs": 10,
    }
    statuses = [m["status"] for m in events if m["type"] == "status"]
    assert statuses == ["queued", "running", "completed", "queued", "running", "completed"]


def test_extend_refuses_what_it_cannot_continue_and_changes_nothing(server: LiveServer) -> None:
    client = server.client()
    plain = {"recipe": "mlp", "params": {"epochs": 1, "dataset": "digits", "bs": 64}}
    no_checkpoint = client.post("/api/runs", json=plain).json()["id"]
    wait_for_status(client, no_checkpoint, "completed")
    response = client.post(f"/api/runs/{no_checkpoint}/extend", json={"epochs": 2})
    assert response.status_code == 409
    assert response.json()["detail"].endswith("cannot extend it: it has no checkpoint")

    run_id = client.post("/api/runs", json=BODY).json()["id"]
    wait_for_status(client, run_id, "completed")
    too_many = client.post(f"/api/runs/{run_id}/extend", json={"epochs": 96})
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["detail"][0]["loc"] == ["body", "epochs"]
    assert "5 + 96 epochs" in too_many.json()["detail"][0]["msg"]
    bad = client.post(f"/api/runs/{run_id}/extend", json={"epochs": 0})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "epochs"]
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["params"]["epochs"]) == ("completed", 5)
    assert client.post("/api/runs/nope/extend", json={"epochs": 1}).status_code == 404


def test_extend_refuses_a_checkpoint_older_than_the_last_epoch(server: LiveServer) -> None:
    client = server.client()
    # "Best" by the highest training loss: the first epoch's, as the loss falls after it.
    best_first = {"name": "checkpoint", "params": {"every": "best", "monitor": "train_loss",
                                                   "mode": "max"}}  # fmt: skip
    body = {"recipe": "mlp", "params": {"epochs": 3, "dataset": "digits", "bs": 64, "lr": 0.5},
            "callbacks": [best_first]}  # fmt: skip
    run_id = client.post("/api/runs", json=body).json()["id"]
    wait_for_status(client, run_id, "completed")
    response = client.post(f"/api/runs/{run_id}/extend", json={"epochs": 2})
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        f"run {run_id} is completed: cannot extend it: its newest checkpoint, best.pt, is from "
        "epoch 1 of 3, so epochs 2-3 would train again (attach a checkpoint with every=epoch "
        "to extend a run)"
    )
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["params"]["epochs"]) == ("completed", 3)
    events = client.get(f"/api/runs/{run_id}/events").json()
    assert not [m for m in events if m["type"] == "resumed"]

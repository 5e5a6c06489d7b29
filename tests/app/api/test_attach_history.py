"""An EarlyStopping attached to a running run judges the epochs the run trained before it."""

from __future__ import annotations

import pytest

from tests.fixtures.server import LiveServer, wait_for_epoch, wait_for_status

pytestmark = pytest.mark.timeout(120)


def test_early_stopping_attached_live_counts_the_best_epoch_before_it(server: LiveServer) -> None:
    client = server.client()
    body = {"recipe": "mlp", "params": {"epochs": 40, "dataset": "digits", "bs": 16}}
    run_id = client.post("/api/runs", json=body).json()["id"]
    wait_for_epoch(client, run_id, 1)
    # Hold it at a batch boundary so that we know which epochs it has when the callback joins.
    assert client.post(f"/api/runs/{run_id}/pause").status_code == 202
    wait_for_status(client, run_id, "paused")
    before = client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    last = len(before) - 1
    # "Best" by the highest training loss: epoch 0 is the good one, every later one worse.
    patience = last + 2
    params = {"monitor": "train_loss", "mode": "max", "patience": patience}
    attached = client.post(
        f"/api/runs/{run_id}/callbacks", json={"name": "early_stopping", "params": params}
    )
    assert attached.status_code == 201, attached.text
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 202
    run = wait_for_status(client, run_id, "early_stopped", "completed", "failed")

    epochs = client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    losses = [e["train"]["loss"] for e in epochs]
    assert losses == sorted(losses, reverse=True), "the setting: the training loss falls"
    reason = run["stop_reason"]
    assert run["status"] == "early_stopped", run
    assert reason["source"] == "early_stopping"
    # Epochs 1.. each failed to beat epoch 0: the patience runs out after epoch `patience`,
    # not `patience` epochs after it joined (which would also miss epoch 0's best).
    assert reason["details"]["best"] == losses[0]
    assert reason["epoch"] == patience and len(epochs) == patience + 1
    assert f"did not improve for {patience} epochs: best {losses[0]:.6g}" in reason["message"]

"""Artifacts: a run's checkpoints and per-epoch metrics, downloaded from a real server."""

from __future__ import annotations

import csv
import io

import pytest
import torch

from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)

BODY = {
    "recipe": "mlp",
    "params": {"epochs": 3, "dataset": "digits", "bs": 64},
    "callbacks": [
        {"name": "checkpoint", "params": {}},
        {"name": "checkpoint", "params": {"every": "best", "monitor": "valid_loss"}},
    ],
}


def _finished_run(server: LiveServer, body: dict = BODY) -> str:
    client = server.client()
    run_id = client.post("/api/runs", json=body).json()["id"]
    assert wait_for_status(client, run_id, "completed")["status"] == "completed"
    return str(run_id)


@pytest.mark.parametrize("kind", ["last", "best"])
def test_a_checkpoint_downloads_as_a_file_torch_loads_with_weights_only(
    server: LiveServer, kind: str, tmp_path
) -> None:
    run_id = _finished_run(server)
    response = server.client().get(f"/api/runs/{run_id}/checkpoint", params={"kind": kind})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    assert f'filename="{run_id}-{kind}.pt"' in response.headers["content-disposition"]
    path = tmp_path / "downloaded.pt"
    path.write_bytes(response.content)
    state = torch.load(path, weights_only=True)
    assert {"model", "opt", "epoch"} <= set(state)
    weights = state["model"]
    assert weights["0.weight"].shape == (50, 64)  # the mlp: 64 pixels -> 50 hidden units
    listed = server.client().get(f"/api/runs/{run_id}/artifacts").json()
    assert sorted(c["kind"] for c in listed["checkpoints"]) == ["best", "last"]
    assert listed["epochs"] == 3


def test_metrics_csv_and_json_hold_one_row_per_epoch(server: LiveServer) -> None:
    run_id = _finished_run(server)
    client = server.client()
    response = client.get(f"/api/runs/{run_id}/metrics.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert list(rows[0]) == [
        "epoch",
        "elapsed",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_accuracy",
    ]
    epochs = client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    assert [float(row["valid_loss"]) for row in rows] == [e["valid"]["loss"] for e in epochs]
    as_json = client.get(f"/api/runs/{run_id}/metrics.json").json()
    assert [row["epoch"] for row in as_json] == [0, 1, 2]
    assert as_json[2]["valid_accuracy"] == pytest.approx(float(rows[2]["valid_accuracy"]))


def test_missing_checkpoints_and_runs_are_404s_that_say_what_is_missing(
    server: LiveServer,
) -> None:
    client = server.client()
    plain = _finished_run(server, {"recipe": "mlp", "params": {"epochs": 1, "dataset": "digits"}})
    missing = client.get(f"/api/runs/{plain}/checkpoint")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith(f"run {plain} has no last.pt checkpoint")
    assert client.get(f"/api/runs/{plain}/artifacts").json()["checkpoints"] == []
    assert client.get("/api/runs/nope/metrics.csv").status_code == 404
    assert client.get("/api/runs/nope/checkpoint").json()["detail"] == "no run with id 'nope'"


@pytest.mark.parametrize("kind", ["../fitboard.db", "last.pt", "/etc/passwd", "LAST"])
def test_a_checkpoint_is_named_by_kind_never_by_path(server: LiveServer, kind: str) -> None:
    run_id = _finished_run(server)
    response = server.client().get(f"/api/runs/{run_id}/checkpoint", params={"kind": kind})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "kind"]

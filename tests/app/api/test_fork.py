"""Fork over REST: a new run from a live run's snapshot (at its next training batch) or a
finished run's checkpoint, with its own lr or epochs; the parent goes on untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.fixtures.server import LiveServer, wait_for_epoch, wait_for_status
from trainer import load_checkpoint

pytestmark = pytest.mark.timeout(180)

PARAMS = {"epochs": 6, "bs": 8, "seed": 3}
BODY = {"recipe": "mlp", "params": PARAMS, "callbacks": [{"name": "checkpoint", "params": {}}]}


def _weights(server: LiveServer, run_id: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(Path(server.settings.run_dir(run_id)) / "last.pt")["model"]  # type: ignore[no-any-return]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _events(client: Any, run_id: str, kind: str) -> list[dict[str, Any]]:
    return [m for m in client.get(f"/api/runs/{run_id}/events").json() if m["type"] == kind]


def test_a_fork_of_a_running_run_continues_at_its_snapshot_and_leaves_the_parent_untouched(
    server: LiveServer,
) -> None:
    client = server.client()
    parent = client.post("/api/runs", json=BODY).json()
    wait_for_epoch(client, parent["id"], 1)  # two epochs done: it trains the third or later
    # Hold it so that both forks are taken at one batch boundary.
    client.post(f"/api/runs/{parent['id']}/pause").raise_for_status()
    wait_for_status(client, parent["id"], "paused")
    same = client.post(f"/api/runs/{parent['id']}/fork", json={})
    assert same.status_code == 201, same.text
    faster = client.post(
        f"/api/runs/{parent['id']}/fork", json={"params": {"lr": 0.01}, "name": "lr 0.01"}
    )
    assert faster.status_code == 201, faster.text
    client.post(f"/api/runs/{parent['id']}/resume").raise_for_status()
    same, faster = same.json(), faster.json()

    point = same["fork_point"]
    assert same["parent_id"] == faster["parent_id"] == parent["id"]
    assert {k: point[k] for k in ("epoch", "batch", "iter")} == {
        k: faster["fork_point"][k] for k in ("epoch", "batch", "iter")
    }
    assert 2 <= point["epoch"] < PARAMS["epochs"] and point["iter"] > 0
    assert faster["name"] == "lr 0.01" and faster["params"]["lr"] == 0.01
    assert faster["fork_point"]["hypers"] == {"lr": 0.01} and point["hypers"] == {}
    assert [c["name"] for c in same["callbacks"]] == ["checkpoint"]  # the parent's

    for run in (parent, same, faster):
        assert wait_for_status(client, run["id"], "completed", timeout=120)["latest"]["epoch"] == 5
    # The unchanged fork ends exactly where its parent does: the snapshot lost nothing.
    assert _same(_weights(server, same["id"]), _weights(server, parent["id"]))
    assert not _same(_weights(server, faster["id"]), _weights(server, parent["id"]))
    twin = client.post("/api/runs", json=BODY).json()  # never forked
    wait_for_status(client, twin["id"], "completed", timeout=120)
    assert _same(_weights(server, parent["id"]), _weights(server, twin["id"]))

    # The child's history starts at the fork point; its lr took effect at once.
    child_epochs = [m["epoch"] for m in _events(client, faster["id"], "epoch")]
    assert child_epochs == list(range(point["epoch"], PARAMS["epochs"]))
    hyper = _events(client, faster["id"], "hyper")[0]
    assert hyper["values"] == {"lr": 0.01} and hyper["iter"] == point["iter"]
    first_batch = _events(client, faster["id"], "batch")[0]
    assert first_batch["iter"] > point["iter"] and first_batch["lr"] == pytest.approx(0.01)
    # Both logs say it.
    told = _events(client, parent["id"], "fork")
    assert {m["child_id"] for m in told} == {same["id"], faster["id"]}
    assert _events(client, faster["id"], "fork")[0]["parent_id"] == parent["id"]
    forks = client.get(f"/api/runs/{parent['id']}/forks").json()
    assert [f["id"] for f in forks] == [same["id"], faster["id"]]


def test_a_fork_of_a_finished_run_starts_after_its_checkpoint(server: LiveServer) -> None:
    client = server.client()
    body = {**BODY, "params": {**PARAMS, "epochs": 3}}
    parent = client.post("/api/runs", json=body).json()
    wait_for_status(client, parent["id"], "completed")
    too_few = client.post(f"/api/runs/{parent['id']}/fork", json={"params": {"epochs": 3}})
    assert too_few.status_code == 422
    assert too_few.json()["detail"][0]["loc"] == ["body", "params", "epochs"]

    fork = client.post(f"/api/runs/{parent['id']}/fork", json={"params": {"epochs": 5}})
    assert fork.status_code == 201, fork.text
    child = fork.json()
    assert child["fork_point"]["epoch"] == 3 and child["fork_point"]["batch"] == 0
    done = wait_for_status(client, child["id"], "completed")
    assert [m["epoch"] for m in _events(client, child["id"], "epoch")] == [3, 4]
    assert done["latest"]["epoch"] == 4
    client.delete(f"/api/runs/{parent['id']}").raise_for_status()  # the fork has its own copy
    assert client.post(f"/api/runs/{child['id']}/extend", json={"epochs": 1}).status_code == 202
    assert wait_for_status(client, child["id"], "completed")["latest"]["epoch"] == 5


def test_bad_forks_are_refused_naming_the_field_or_the_state_and_create_nothing(
    server: LiveServer,
) -> None:
    client = server.client()
    plain = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    wait_for_status(client, plain["id"], "completed")
    total = client.get("/api/runs").json()["total"]

    no_checkpoint = client.post(f"/api/runs/{plain['id']}/fork", json={})
    assert no_checkpoint.status_code == 409
    assert no_checkpoint.json()["status"] == "completed"
    assert "no checkpoint" in no_checkpoint.json()["detail"]
    for params, field in (
        ({"bs": 16}, "bs"),  # the data order of the snapshot depends on it
        ({"lr": -1}, "lr"),
        ({"colour": "red"}, "colour"),
    ):
        response = client.post(f"/api/runs/{plain['id']}/fork", json={"params": params})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "params", field]
    bad_callback = client.post(
        f"/api/runs/{plain['id']}/fork", json={"callbacks": [{"name": "nope"}]}
    )
    assert bad_callback.status_code == 422
    assert bad_callback.json()["detail"][0]["loc"] == ["body", "callbacks", 0, "name"]
    assert client.post("/api/runs/nope/fork", json={}).status_code == 404
    assert client.get("/api/runs/nope/forks").status_code == 404
    assert client.get("/api/runs").json()["total"] == total
    assert client.get(f"/api/runs/{plain['id']}/forks").json() == []
    assert not any(Path(server.settings.runs_dir).glob("*/fork.pt"))

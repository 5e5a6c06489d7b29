"""POST /api/lr-find: a short run that sweeps the lr (the course's LR_Find) and suggests one."""

from __future__ import annotations

import itertools
import math

import pytest

from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)


def test_the_finder_sweeps_exponentially_and_suggests_an_lr_that_trains_digits(
    server: LiveServer,
) -> None:
    client = server.client()
    response = client.post("/api/lr-find", json={"recipe": "mlp", "params": {"bs": 32}})
    assert response.status_code == 201
    run = response.json()
    assert response.headers["Location"] == f"/api/runs/{run['id']}"
    assert [cb["name"] for cb in run["callbacks"]] == ["lr_find"]
    done = wait_for_status(client, run["id"], "early_stopped")
    assert done["stop_reason"]["source"] == "lr_find"  # it says why the sweep ended

    result = client.get(f"/api/runs/{run['id']}/lr-find").json()
    lrs, losses = result["lr"], result["loss"]
    assert len(lrs) == len(losses) >= 20
    assert lrs[0] == pytest.approx(1e-7)
    ratios = {round(b / a, 6) for a, b in itertools.pairwise(lrs)}
    assert len(ratios) == 1 and math.isclose(ratios.pop(), 10 ** (8 / 100), rel_tol=1e-4)
    suggestion = result["suggestion"]
    assert suggestion["rule"] == "steepest" and 1e-4 < suggestion["lr"] < 1
    assert suggestion["lr"] < suggestion["minimum"]  # before the loss bottoms out

    # The suggestion trains: a run at that lr learns digits within three epochs.
    trained = client.post(
        "/api/runs", json={"recipe": "mlp", "params": {"lr": suggestion["lr"], "epochs": 3}}
    ).json()
    final = wait_for_status(client, trained["id"], "completed")
    assert final["latest"]["valid"]["accuracy"] > 0.8


def test_the_result_is_a_409_while_the_sweep_runs_and_a_404_for_other_runs(
    server: LiveServer,
) -> None:
    client = server.client()
    # A long, gentle sweep (lr far too small to diverge), held still by a pause.
    body = {"recipe": "mlp", "finder": {"max_iter": 1000, "max_lr": 1e-6}}
    sweeping = client.post("/api/lr-find", json=body).json()
    wait_for_status(client, sweeping["id"], "running")
    client.post(f"/api/runs/{sweeping['id']}/pause").raise_for_status()
    wait_for_status(client, sweeping["id"], "paused")
    early = client.get(f"/api/runs/{sweeping['id']}/lr-find")
    assert early.status_code == 409 and early.json()["status"] == "paused"
    client.post(f"/api/runs/{sweeping['id']}/stop").raise_for_status()

    plain = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    wait_for_status(client, plain["id"], "completed")
    missing = client.get(f"/api/runs/{plain['id']}/lr-find")
    assert missing.status_code == 404 and "no LR finder result" in missing.json()["detail"]


def test_bad_finder_input_is_a_422_at_its_field_and_creates_nothing(server: LiveServer) -> None:
    client = server.client()
    cases = [
        ({"finder": {"min_lr": 1e-2, "max_lr": 1e-3}}, ["body", "finder", "max_lr"]),
        ({"finder": {"max_iter": 2}}, ["body", "finder", "max_iter"]),
        ({"params": {"bs": 0}}, ["body", "params", "bs"]),
        ({"finder": {"steps": 5}}, ["body", "finder", "steps"]),
        ({"recipe": "nope"}, ["body", "recipe"]),
    ]
    for extra, loc in cases:
        response = client.post("/api/lr-find", json={"recipe": "mlp"} | extra)
        assert response.status_code == 422, extra
        assert [e["loc"] for e in response.json()["detail"]] == [loc]
    assert client.get("/api/runs").json()["total"] == 0


def test_lr_find_cannot_join_a_running_run(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 100}}).json()
    wait_for_status(client, run["id"], "running")
    response = client.post(f"/api/runs/{run['id']}/callbacks", json={"name": "lr_find"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert [cb["name"] for cb in client.get(f"/api/runs/{run['id']}").json()["callbacks"]] == []

"""Sweeps end to end: a real server drives Optuna over real runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import optuna
import pytest

from tests.fixtures.server import LiveServer, wait_for_epoch

pytestmark = pytest.mark.timeout(240)

LR_AND_BS = {
    "lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True},
    "bs": {"type": "int", "low": 16, "high": 128},
}


def _create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/sweeps", json={"recipe": "mlp", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_for_sweep(
    client: httpx.Client, sweep_id: str, *statuses: str, timeout: float = 180.0
) -> dict[str, Any]:
    """GET the sweep until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        sweep = client.get(f"/api/sweeps/{sweep_id}").raise_for_status().json()
        if sweep["status"] in statuses:
            return sweep  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"sweep {sweep_id} is {sweep['status']}: {sweep['counts']}")
        time.sleep(0.1)


def test_a_six_trial_sweep_runs_six_distinct_trials_and_finds_the_best(server: LiveServer):
    client = server.client()
    created = _create(
        client,
        params={"epochs": 2},
        space=LR_AND_BS,
        objective="valid.accuracy",
        direction="max",
        n_trials=6,
        parallel=2,
        pruner="none",
        seed=3,
    )
    assert created["status"] == "running" and created["n_trials"] == 6

    sweep = wait_for_sweep(client, created["id"], "completed")

    trials = sweep["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    assert {t["state"] for t in trials} == {"complete"}
    params = [(t["params"]["lr"], t["params"]["bs"]) for t in trials]
    assert len(set(params)) == 6
    for lr, bs in params:
        assert 0.01 <= lr <= 1.0 and 16 <= bs <= 128 and isinstance(bs, int)
    # Each trial is an ordinary run, tagged with its sweep and number, with those params.
    runs = client.get("/api/runs", params={"limit": 50}).json()["items"]
    assert len(runs) == 6
    for trial in trials:
        run = client.get(f"/api/runs/{trial['run_id']}").json()
        assert run["status"] == "completed"
        assert (run["sweep_id"], run["trial_number"]) == (sweep["id"], trial["number"])
        assert run["params"]["lr"] == trial["params"]["lr"]
        assert run["params"]["bs"] == trial["params"]["bs"] and run["params"]["epochs"] == 2
        assert trial["value"] == run["latest"]["valid"]["accuracy"]
        assert [epoch for epoch, _ in trial["intermediate"]] == [0, 1]
    best = max(trials, key=lambda t: t["value"])
    assert sweep["best"]["value"] == best["value"]
    assert sweep["best"]["run_id"] == best["run_id"]
    assert sweep["best"]["params"] == best["params"]
    listed = client.get("/api/sweeps").json()
    assert listed["total"] == 1 and listed["items"][0]["best"] == sweep["best"]


def test_the_median_pruner_prunes_a_trial_in_a_bad_region(server: LiveServer):
    """lr above ~2 diverges on digits: with the median pruner, such a trial is stopped
    after an epoch or two, ends `pruned`, and its stop reason names the pruner and values."""
    client = server.client()
    epochs = 10
    created = _create(
        client,
        params={"epochs": epochs, "bs": 16},
        space={"lr": {"type": "float", "low": 0.05, "high": 10.0, "log": True}},
        objective="valid.accuracy",
        direction="max",
        n_trials=8,
        sampler="random",
        pruner="median",
        startup_trials=2,
        seed=7,
    )
    sweep = wait_for_sweep(client, created["id"], "completed")

    pruned = [t for t in sweep["trials"] if t["state"] == "pruned"]
    assert pruned, [(t["params"], t["value"]) for t in sweep["trials"]]
    for trial in pruned:
        run = client.get(f"/api/runs/{trial['run_id']}").json()
        assert run["status"] == "pruned"
        reason = run["stop_reason"]
        assert reason["source"] == "pruner"
        assert "median pruner" in reason["message"] and "valid.accuracy" in reason["message"]
        assert reason["details"]["pruner"] == "median"
        epochs_done = client.get(f"/api/runs/{trial['run_id']}/metrics").json()["epochs"]
        assert len(epochs_done) < epochs  # stopped before its last epoch
    assert sweep["counts"]["pruned"] == len(pruned)
    assert sweep["counts"]["complete"] + len(pruned) == 8


def test_a_sweep_goes_on_after_a_server_restart(server: LiveServer):
    client = server.client()
    created = _create(
        client,
        params={"epochs": 30, "bs": 8},
        space={"lr": {"type": "float", "low": 0.01, "high": 0.5, "log": True}},
        n_trials=3,
        pruner="none",
        seed=1,
    )
    first = client.get(f"/api/sweeps/{created['id']}").json()["trials"][0]
    wait_for_epoch(client, first["run_id"], 1)

    server.restart()
    client = server.client()

    # The trial that was training is interrupted and retried once with the same params.
    interrupted = client.get(f"/api/runs/{first['run_id']}").json()
    assert interrupted["status"] == "interrupted"
    sweep = client.get(f"/api/sweeps/{created['id']}").json()
    retry = next(t for t in sweep["trials"] if t["retry_of"] == first["number"])
    assert retry["params"] == first["params"]
    # Shorten what is left: stop each trial once it trains; told as failed, the search
    # goes on to the next.
    stopped = set()
    while (sweep := client.get(f"/api/sweeps/{created['id']}").json())["status"] == "running":
        for trial in sweep["trials"]:
            if trial["state"] == "running" and trial["run_id"] not in stopped | {None}:
                wait_for_epoch(client, trial["run_id"], 0)
                assert client.post(f"/api/runs/{trial['run_id']}/stop").status_code == 202
                stopped.add(trial["run_id"])
        time.sleep(0.05)
    assert sweep["status"] == "completed" and retry["run_id"] in stopped

    counted = [t for t in sweep["trials"] if not t["retried"]]
    assert len(counted) == 3
    assert [t["number"] for t in sweep["trials"] if t["retried"]] == [first["number"]]
    assert all(t["state"] == "fail" for t in counted)  # every one was stopped by hand


def test_optuna_load_study_reads_the_same_trials(server: LiveServer, database_url: str):
    client = server.client()
    created = _create(client, params={"epochs": 1}, space=LR_AND_BS, n_trials=3, seed=5)
    sweep = wait_for_sweep(client, created["id"], "completed")

    # What a notebook does, with the database URL the server was given.
    storage = optuna.storages.RDBStorage(database_url)
    try:
        study = optuna.load_study(study_name=sweep["study_name"], storage=storage)
        trials = study.trials
    finally:
        storage.engine.dispose()

    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    seen = [(t.number, t.value, t.params, t.user_attrs["fitboard_run_id"]) for t in trials]
    shown = [(t["number"], t["value"], t["params"], t["run_id"]) for t in sweep["trials"]]
    assert seen == shown
    assert min(t.value for t in trials if t.value is not None) == sweep["best"]["value"]
    assert all(not math.isnan(t.value) for t in trials if t.value is not None)


BAD_SPACES: list[tuple[str, dict[str, Any], list[Any]]] = [
    (
        "low above high",
        {"lr": {"type": "float", "low": 0.5, "high": 0.1}},
        ["body", "space", "lr", "float"],
    ),
    (
        "a param the recipe does not have",
        {"dropout": {"type": "float", "low": 0.1, "high": 0.5}},
        ["body", "space", "dropout"],
    ),
    (
        "bounds outside the recipe's",
        {"lr": {"type": "float", "low": 0.1, "high": 50.0}},
        ["body", "space", "lr", "high"],
    ),
    (
        "an int below the recipe's bound",
        {"bs": {"type": "int", "low": 0, "high": 64}},
        ["body", "space", "bs", "low"],
    ),
    (
        "a categorical param with no choices",
        {"bs": {"type": "categorical", "choices": []}},
        ["body", "space", "bs", "categorical", "choices"],
    ),
    (
        "a choice the recipe refuses",
        {"bs": {"type": "categorical", "choices": [32, 10_000]}},
        ["body", "space", "bs", "choices", 1],
    ),
    (
        "a float range for an int param",
        {"bs": {"type": "float", "low": 16, "high": 64}},
        ["body", "space", "bs", "type"],
    ),
    (
        "a log range with a step (Optuna refuses it)",
        {"lr": {"type": "float", "low": 0.1, "high": 1.0, "log": True, "step": 0.1}},
        ["body", "space", "lr"],
    ),
]


@pytest.mark.parametrize(("case", "space", "loc"), BAD_SPACES, ids=[c for c, _, _ in BAD_SPACES])
def test_a_bad_space_is_a_422_naming_the_param(
    server: LiveServer, case: str, space: dict[str, Any], loc: list[Any]
):
    client = server.client()
    response = client.post("/api/sweeps", json={"recipe": "mlp", "space": space})
    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["detail"]], response.json()
    assert client.get("/api/sweeps").json()["total"] == 0
    assert client.get("/api/runs").json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"objective": "valid.f1"}, ["body", "objective"]),
        ({"parallel": 3}, ["body", "parallel"]),  # the test server has two workers
        ({"sampler": "grid"}, ["body", "space", "lr", "step"]),
        ({"params": {"epochs": 0}}, ["body", "params", "epochs"]),
    ],
)
def test_a_bad_sweep_request_is_a_422_naming_the_field(
    server_factory: Callable[..., LiveServer], body: dict[str, Any], loc: list[Any]
):
    client = server_factory().client()
    space = {"lr": {"type": "float", "low": 0.01, "high": 1.0}}
    response = client.post("/api/sweeps", json={"recipe": "mlp", "space": space, **body})
    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["detail"]], response.json()
    assert client.get("/api/sweeps").json()["total"] == 0


def test_stop_a_sweep_and_add_trials(server: LiveServer):
    client = server.client()
    created = _create(
        client,
        params={"epochs": 50, "bs": 8},
        space={"lr": {"type": "float", "low": 0.01, "high": 0.5, "log": True}},
        n_trials=5,
        parallel=2,
        pruner="none",
    )
    sweep_id = created["id"]
    running = [t["run_id"] for t in created["trials"]]
    assert len(running) == 2
    for run_id in running:
        wait_for_epoch(client, run_id, 0)

    stopping = client.post(f"/api/sweeps/{sweep_id}/stop", json={"trials": "stop"})
    assert stopping.status_code == 202, stopping.text
    sweep = wait_for_sweep(client, sweep_id, "stopped")
    assert [t["state"] for t in sweep["trials"]] == ["fail", "fail"]
    assert {t["run_status"] for t in sweep["trials"]} == {"stopped"}
    again = client.post(f"/api/sweeps/{sweep_id}/stop")
    assert again.status_code == 409 and again.json()["status"] == "stopped"

    added = client.post(f"/api/sweeps/{sweep_id}/trials", json={"n": 1})
    assert added.status_code == 202, added.text
    assert added.json()["status"] == "running" and added.json()["n_trials"] == 6
    new = [t for t in added.json()["trials"] if t["state"] == "running"]
    assert len(new) == 2  # it owes 4 trials, 2 at once
    assert client.get("/api/sweeps/nope00").status_code == 404
    assert client.post("/api/sweeps/nope00/trials", json={"n": 1}).status_code == 404
    assert client.post(f"/api/sweeps/{sweep_id}/trials", json={"n": 0}).status_code == 422
    client.post(f"/api/sweeps/{sweep_id}/stop", json={"trials": "stop"})
    wait_for_sweep(client, sweep_id, "stopped")

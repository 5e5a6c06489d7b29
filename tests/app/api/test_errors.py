"""Every bad request gets the right JSON error (404, 409, 422) and changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy.engine import URL, make_url

from tests.fixtures.postgres import admin_execute, fresh_postgres_database
from tests.fixtures.server import LiveServer, server_settings, wait_for_status

pytestmark = pytest.mark.timeout(120)


def _locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"params": {}}, ["body", "recipe"]),
        ({"recipe": "no_such_recipe"}, ["body", "recipe"]),
        ({"recipe": "mlp", "params": {"lr": -1}}, ["body", "params", "lr"]),
        ({"recipe": "mlp", "params": {"epochs": 10_000}}, ["body", "params", "epochs"]),
        ({"recipe": "mlp", "params": {"bs": "many"}}, ["body", "params", "bs"]),
        ({"recipe": "mlp", "params": {"layers": 3}}, ["body", "params", "layers"]),
        ({"recipe": "mlp", "colour": "red"}, ["body", "colour"]),
        ({"recipe": "mlp", "callbacks": [{"name": "nope"}]}, ["body", "callbacks", 0, "name"]),
        (
            {
                "recipe": "mlp",
                "callbacks": [{"name": "early_stopping", "params": {"patience": -1}}],
            },
            ["body", "callbacks", 0, "params", "patience"],
        ),
        (
            {"recipe": "mlp", "callbacks": [{"name": "checkpoint", "params": {"monitor": "x_y"}}]},
            ["body", "callbacks", 0, "params", "monitor"],
        ),
    ],
)
def test_a_bad_run_request_is_a_422_naming_the_field(
    server: LiveServer, body: dict[str, Any], loc: list[Any]
) -> None:
    client = server.client()
    response = client.post("/api/runs", json=body)
    assert loc in _locs(response)
    assert client.get("/api/runs").json()["total"] == 0


def test_malformed_json_and_bad_queries_are_422s(server: LiveServer) -> None:
    client = server.client()
    response = client.post(
        "/api/runs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert ["query", "status", 0] in _locs(client.get("/api/runs", params={"status": "bogus"}))
    assert ["query", "limit"] in _locs(client.get("/api/runs", params={"limit": 0}))
    assert client.get("/api/runs").json()["total"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/runs/missing"),
        ("GET", "/api/runs/missing/metrics"),
        ("GET", "/api/runs/missing/events"),
        ("POST", "/api/runs/missing/stop"),
        ("POST", "/api/runs/missing/resume"),
        ("DELETE", "/api/runs/missing"),
        ("DELETE", "/api/runs/missing/callbacks/abc"),
    ],
)
def test_an_unknown_run_is_a_404(server: LiveServer, method: str, path: str) -> None:
    response = server.client().request(method, path)
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


def test_attaching_to_an_unknown_run_is_a_404(server: LiveServer) -> None:
    body = {"name": "terminate_on_nan"}
    response = server.client().post("/api/runs/missing/callbacks", json=body)
    assert response.status_code == 404


def test_a_websocket_for_an_unknown_run_is_refused_with_404(server: LiveServer) -> None:
    async def connect() -> None:
        async with websockets.connect(server.ws_url("/ws/runs/missing")):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 404


def test_actions_on_a_finished_run_are_409s_naming_its_state(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    before = wait_for_status(client, run["id"], "completed")
    attempts = [
        client.post(f"/api/runs/{run['id']}/stop"),
        client.post(f"/api/runs/{run['id']}/resume"),
        client.post(f"/api/runs/{run['id']}/callbacks", json={"name": "terminate_on_nan"}),
    ]
    for response in attempts:
        assert response.status_code == 409, response.text
        assert response.json()["status"] == "completed"
        assert "completed" in response.json()["detail"]
    assert client.get(f"/api/runs/{run['id']}").json() == before


def test_a_bad_callback_for_a_running_run_is_a_422_and_changes_nothing(
    server: LiveServer,
) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 100, "bs": 8}})
    run_id = run.json()["id"]
    wait_for_status(client, run_id, "running")
    bad = [
        ({"name": "lr_schedule", "params": {"lr_max": 0.1, "lr_min": 0.5}}, "lr_min"),
        ({"name": "set_hyperparameter", "params": {"value": 50}}, "value"),
        ({"name": "time_limit", "params": {"seconds": "soon"}}, "seconds"),
    ]
    for body, field in bad:
        response = client.post(f"/api/runs/{run_id}/callbacks", json=body)
        assert ["body", "params", field] in _locs(response)
    unknown = client.post(f"/api/runs/{run_id}/callbacks", json={"name": "rm -rf"})
    assert ["body", "name"] in _locs(unknown)
    assert client.get(f"/api/runs/{run_id}").json()["callbacks"] == []
    events = client.get(f"/api/runs/{run_id}/events").json()
    assert not [m for m in events if m["type"] == "callback"]
    client.post(f"/api/runs/{run_id}/stop").raise_for_status()
    assert wait_for_status(client, run_id, "stopped")["status"] == "stopped"


@pytest.mark.postgres
def test_a_database_that_stops_answering_is_a_503_not_a_500(
    postgres_server: URL, tmp_path: Path
) -> None:
    with (
        fresh_postgres_database(postgres_server) as url,
        LiveServer(server_settings(url, tmp_path)) as live,
    ):
        client = live.client()
        assert client.get("/api/health").status_code == 200
        # FORCE ends the server's sessions: its next query finds no database.
        admin_execute(postgres_server, f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)')
        for path in ("/api/health", "/api/runs"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "5"
            assert "database is unavailable" in response.json()["detail"]
        created = client.post("/api/runs", json={"recipe": "mlp"})
        assert created.status_code == 503, created.text

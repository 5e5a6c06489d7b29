"""Input that used to reach the database or the error echo and fail there (500s): text the
database cannot store, numbers past its columns, huge or numerous errors, bad dataset paths.
Each is a 422 naming the field, with a small body, and changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.timeout(120)

MiB = 1024 * 1024


def _post_raw(client: httpx.Client, path: str, raw_json: str) -> httpx.Response:
    """POST JSON text as written (escapes such as a lone `\\ud800` reach the server as is)."""
    headers = {"Content-Type": "application/json"}
    return client.post(path, content=raw_json.encode(), headers=headers)


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_count"] >= len(body["detail"])
    return body["detail"]  # type: ignore[no-any-return]


def _locs(response: httpx.Response) -> list[list[Any]]:
    return [error["loc"] for error in _errors(response)]


# --- text the database cannot store ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_json", "loc"),
    [
        ('{"recipe": "mlp", "name": "\\ud800"}', ["body", "name"]),
        ('{"recipe": "\\ud800"}', ["body", "recipe"]),
        ('{"recipe": "mlp", "callbacks": [{"name": "\\udfff"}]}', ["body", "callbacks", 0, "name"]),
        ('{"recipe": "mlp", "name": "a\\u0000b"}', ["body", "name"]),
        ('{"recipe": "mlp", "params": {"x": ["ok", "\\u0000"]}}', ["body", "params", "x", 1]),
        ('{"recipe": "mlp", "params": {"lr": NaN}}', ["body", "params", "lr"]),
        ('{"recipe": "mlp", "params": {"lr": Infinity}}', ["body", "params", "lr"]),
    ],
)
def test_unstorable_text_and_numbers_are_422s_naming_the_field(
    server: LiveServer, raw_json: str, loc: list[Any]
) -> None:
    client = server.client()
    response = _post_raw(client, "/api/runs", raw_json)
    assert loc in _locs(response)
    assert client.get("/api/runs").json()["total"] == 0


def test_an_unstorable_callback_name_attached_live_is_a_422(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    raw = '{"name": "\\ud800", "params": {}}'
    response = _post_raw(client, f"/api/runs/{run['id']}/callbacks", raw)
    assert ["body", "name"] in _locs(response)


# --- the echo in a 422 is bounded ----------------------------------------------------------------


def test_a_huge_value_is_echoed_in_a_few_hundred_bytes(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(max_body_bytes=64 * MiB)
    response = server.client().post("/api/runs", json={"recipe": "mlp", "name": "n" * 5 * MiB})
    assert ["body", "name"] in _locs(response)
    assert len(response.content) < 2000
    echoed = _errors(response)[0]["input"]
    assert echoed.startswith("nnn") and str(5 * MiB) in echoed


def test_many_errors_are_listed_up_to_twenty_with_their_count(server: LiveServer) -> None:
    params = {f"unknown_{i}": {"deep": {"deeper": list(range(1000))}} for i in range(100)}
    response = server.client().post("/api/runs", json={"recipe": "mlp", "params": params})
    body = response.json()
    assert response.status_code == 422
    assert len(body["detail"]) == 20 and body["error_count"] == 100
    assert len(response.content) < 20_000


def test_containers_in_an_echo_are_summarised(server: LiveServer) -> None:
    body = {"recipe": "mlp", "params": {"x": {"deep": {"deeper": list(range(10_000))}}}}
    response = server.client().post("/api/runs", json=body)
    errors = _errors(response)
    assert ["body", "params", "x"] in [e["loc"] for e in errors]
    assert len(response.content) < 2000


# --- integers past the database's columns --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/runs?offset=9223372036854775808", "offset"),
        (f"/api/runs?offset={2**31}", "offset"),
        ("/api/runs/{run_id}/events?after_seq=9223372036854775808", "after_seq"),
        (f"/api/runs/{{run_id}}/events?after_seq={2**31}", "after_seq"),
    ],
)
def test_integers_past_the_columns_are_422s(server: LiveServer, path: str, field: str) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    response = client.get(path.format(run_id=run["id"]))
    assert ["query", field] in _locs(response)


def test_the_largest_offset_and_seq_are_answered(server: LiveServer) -> None:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    assert client.get(f"/api/runs?offset={2**31 - 1}").json()["items"] == []
    assert client.get(f"/api/runs/{run['id']}/events?after_seq={2**31 - 1}").json() == []


def test_a_websocket_seq_past_the_column_is_refused_with_422(server: LiveServer) -> None:
    run = server.client().post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}})
    url = server.ws_url(f"/ws/runs/{run.json()['id']}?after_seq={2**63}")

    async def connect() -> None:
        async with websockets.connect(url):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 422
    assert json.loads(refused.value.response.body)["detail"][0]["loc"] == ["query", "after_seq"]


@pytest.mark.parametrize("run_id", ["a%00b", "%ED%A0%80", "-x", "a" * 200])
def test_a_run_id_that_cannot_be_one_is_a_422(server: LiveServer, run_id: str) -> None:
    response = server.client().get(f"/api/runs/{run_id}")
    assert ["path", "run_id"] in _locs(response)


# --- names the schema states: recipe and callback names ------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"recipe": ""}, ["body", "recipe"]),
        ({"recipe": "mlp; rm"}, ["body", "recipe"]),
        ({"recipe": "mlp", "callbacks": [{"name": ""}]}, ["body", "callbacks", 0, "name"]),
    ],
)
def test_names_outside_the_schemas_pattern_are_422s(
    server: LiveServer, body: dict[str, Any], loc: list[Any]
) -> None:
    assert loc in _locs(server.client().post("/api/runs", json=body))


def test_the_schema_states_the_name_rules(server: LiveServer) -> None:
    schemas = server.client().get("/openapi.json").json()["components"]["schemas"]
    for model, field in (("RunCreate", "recipe"), ("CallbackIn", "name")):
        rule = schemas[model]["properties"][field]
        assert rule["minLength"] == 1 and rule["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"


# --- dataset paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("data_path", ["é" * 200, ".", "", "empty_dir", "notes.txt", "loop"])
def test_a_bad_dataset_path_is_a_422_that_shows_no_server_path(
    server_factory: Callable[..., LiveServer], tmp_path: Path, data_path: str
) -> None:
    datasets = tmp_path / "datasets"
    (datasets / "empty_dir").mkdir(parents=True)
    (datasets / "notes.txt").write_text("not a dataset")
    (datasets / "loop").symlink_to(datasets / "loop")
    server = server_factory(datasets_dir=datasets)
    client = server.client()
    params = {"dataset": "mnist", "data_path": data_path}
    response = client.post("/api/runs", json={"recipe": "mlp", "params": params})
    assert ["body", "params", "data_path"] in _locs(response)
    assert str(tmp_path) not in response.text
    assert client.get("/api/runs").json()["total"] == 0

"""The runs list over HTTP: sort, search, tags and notes (PATCH), keyset pages, bulk delete."""

from __future__ import annotations

import pytest

from app.db import RunStatus, Store, init_db, make_engine
from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)


def _seed(server: LiveServer, n: int) -> list[str]:
    """`n` finished runs written straight to the server's database (no training needed)."""
    assert server.settings.database_url is not None
    engine = make_engine(server.settings.database_url)
    init_db(engine)
    store = Store(engine)
    ids = []
    for index in range(n):
        run_id = f"seed{index:03d}"
        store.create_run(
            run_id=run_id,
            name=f"trial {index:03d}",
            recipe="cnn" if index % 2 else "mlp",
            params={"lr": round(0.01 * (index + 1), 3)},
        )
        store.transition(run_id, from_=[RunStatus.QUEUED], to=RunStatus.COMPLETED)
        ids.append(run_id)
    engine.dispose()
    return ids


def test_tags_and_a_note_are_saved_and_found_by_search(server: LiveServer) -> None:
    client = server.client()
    ids = _seed(server, 4)
    response = client.patch(
        f"/api/runs/{ids[2]}", json={"tags": ["baseline", "wide", "baseline"], "note": "keep me"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["baseline", "wide"] and response.json()["note"] == "keep me"
    assert client.get(f"/api/runs/{ids[2]}").json()["tags"] == ["baseline", "wide"]
    found = client.get("/api/runs", params={"q": "KEEP"}).json()
    assert [run["id"] for run in found["items"]] == [ids[2]] and found["total"] == 1
    assert [r["id"] for r in client.get("/api/runs?tag=wide").json()["items"]] == [ids[2]]
    assert client.patch(f"/api/runs/{ids[2]}", json={"name": "renamed"}).json()["tags"] == [
        "baseline",
        "wide",
    ]  # fields left out stay


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"tags": ["has space"]}, ["body", "tags", 0]),
        ({"tags": ["x"] * 21}, ["body", "tags"]),
        ({"note": "a\u0000b"}, ["body", "note"]),
        ({"name": ""}, ["body", "name"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
def test_a_bad_edit_names_its_field_and_changes_nothing(
    server: LiveServer, body: dict, loc: list
) -> None:
    client = server.client()
    (run_id,) = _seed(server, 1)
    response = client.patch(f"/api/runs/{run_id}", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["tags"], run["note"], run["name"]) == ([], "", "trial 000")
    assert client.patch("/api/runs/nope", json={"note": "x"}).status_code == 404


def test_sort_and_search_over_name_recipe_and_params(server: LiveServer) -> None:
    client = server.client()
    _seed(server, 6)
    names = [r["name"] for r in client.get("/api/runs?sort=name&order=asc").json()["items"]]
    assert names == sorted(names)
    recipes = [r["recipe"] for r in client.get("/api/runs?sort=recipe").json()["items"]]
    assert recipes == ["mlp"] * 3 + ["cnn"] * 3
    by_params = client.get("/api/runs", params={"q": '"lr": 0.05'}).json()["items"]
    assert [r["name"] for r in by_params] == ["trial 004"]
    assert client.get("/api/runs?q=cnn").json()["total"] == 3


def test_keyset_pages_cover_every_run_once_and_the_last_page_is_reachable(
    server: LiveServer,
) -> None:
    client = server.client()
    ids = _seed(server, 7)
    seen, page = [], client.get("/api/runs?limit=3&sort=name&order=asc").json()
    seen += [r["id"] for r in page["items"]]
    while page["next"]:
        page = client.get(f"/api/runs?limit=3&sort=name&order=asc&after={page['next']}").json()
        seen += [r["id"] for r in page["items"]]
    assert seen == ids
    last = client.get("/api/runs?limit=3&sort=name&order=asc&last=true").json()
    assert [r["id"] for r in last["items"]] == ids[-3:] and last["next"] is None
    before = client.get(f"/api/runs?limit=3&sort=name&order=asc&before={last['prev']}").json()
    assert [r["id"] for r in before["items"]] == ids[1:4]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("after=bm90LWEtY3Vyc29y", ["query", "after"]),  # base64 of "not-a-cursor"
        ("sort=params", ["query", "sort"]),
        ("tag=a%20b", ["query", "tag"]),
        ("q=a%00b", ["query", "q"]),
    ],
)
def test_a_bad_listing_query_is_a_422_at_its_parameter(
    server: LiveServer, query: str, loc: list
) -> None:
    response = server.client().get(f"/api/runs?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_a_cursor_of_another_sort_is_refused(server: LiveServer) -> None:
    client = server.client()
    _seed(server, 3)
    token = client.get("/api/runs?limit=1&sort=name").json()["next"]
    response = client.get(f"/api/runs?limit=1&sort=recipe&after={token}")
    assert response.status_code == 422 and "another sort" in response.json()["detail"][0]["msg"]


def test_bulk_delete_deletes_finished_runs_and_leaves_a_running_one(server: LiveServer) -> None:
    client = server.client()
    finished = _seed(server, 3)
    params = {"epochs": 100, "bs": 2, "dataset": "digits"}
    running = client.post("/api/runs", json={"recipe": "mlp", "params": params}).json()["id"]
    wait_for_status(client, running, "running")
    response = client.post("/api/runs/bulk/delete", json={"ids": [*finished, running, "gone"]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "deleted": finished,
        "refused": {running: "running"},
        "missing": ["gone"],
    }
    assert [r["id"] for r in client.get("/api/runs").json()["items"]] == [running]
    client.post(f"/api/runs/{running}/stop")
    assert client.post("/api/runs/bulk/delete", json={"ids": []}).status_code == 422


def test_a_finished_runs_duration_is_its_training_time(server: LiveServer) -> None:
    client = server.client()
    body = {"recipe": "mlp", "params": {"epochs": 2, "dataset": "digits"}}
    run_id = client.post("/api/runs", json=body).json()["id"]
    run = wait_for_status(client, run_id, "completed")
    assert 0 < run["duration"] < 30
    assert client.get("/api/runs?sort=duration").json()["items"][0]["id"] == run_id

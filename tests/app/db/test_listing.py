"""The runs list in SQL (SQLite and PostgreSQL): sort, search, tags, keyset pages; and a
run's duration, which leaves out pauses and the time its server was down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db import RunStatus, Store, init_db, make_engine
from app.db.listing import RunQuery, decode_cursor
from app.db.models import RunRow, utcnow
from app.runs.owners import interrupt_orphans


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    init_db(engine)
    yield Store(engine)
    engine.dispose()


def _ids(store: Store, **query: object) -> list[str]:
    return [row.id for row in store.query_runs(RunQuery(**query)).rows]  # type: ignore[arg-type]


def _runs(store: Store, n: int) -> None:
    for index in range(n):
        store.create_run(
            run_id=f"r{index:02d}",
            name=f"run {(index * 7) % n:02d}",
            recipe="cnn" if index % 3 == 0 else "mlp",
            params={"lr": 0.1 * (index + 1), "dataset": "digits" if index % 2 else "synthetic"},
        )


def test_every_sort_key_orders_both_ways_with_the_id_breaking_ties(store: Store) -> None:
    _runs(store, 9)
    by_name = _ids(store, sort="name", descending=False)
    names = {row.id: row.name for row in store.query_runs(RunQuery(limit=50)).rows}
    assert [names[i] for i in by_name] == sorted(names.values())
    assert _ids(store, sort="name") == list(reversed(by_name))
    by_recipe = _ids(store, sort="recipe", descending=False)
    assert by_recipe[:3] == ["r00", "r03", "r06"]  # the cnn runs, ties in id order
    assert _ids(store)[:2] == ["r08", "r07"]  # newest first by default


def test_keyset_pages_walk_the_whole_list_forwards_and_back(store: Store) -> None:
    _runs(store, 12)
    everything = _ids(store, sort="name", limit=100)
    page = store.query_runs(RunQuery(sort="name", limit=5))
    seen, pages = [row.id for row in page.rows], [page]
    assert page.prev is None and page.total == 12
    while page.next is not None:
        page = store.query_runs(
            RunQuery(sort="name", limit=5, after=decode_cursor(page.next, "name"))
        )
        seen += [row.id for row in page.rows]
        pages.append(page)
    assert seen == everything and len(pages) == 3
    back = store.query_runs(RunQuery(sort="name", limit=5, before=decode_cursor(page.prev, "name")))  # type: ignore[arg-type]
    assert [row.id for row in back.rows] == everything[5:10]
    last = store.query_runs(RunQuery(sort="name", limit=5, last=True))
    assert [row.id for row in last.rows] == everything[-5:]
    assert last.next is None and last.prev is not None


def test_search_matches_name_recipe_params_tags_and_note_case_insensitively(
    store: Store,
) -> None:
    _runs(store, 6)
    store.annotate("r01", tags=["Baseline", "lr-sweep"], note="Looks promising")
    assert _ids(store, search="RUN 05") == ["r05"]
    assert set(_ids(store, search="cnn")) == {"r00", "r03"}
    assert set(_ids(store, search="synthetic")) == {"r00", "r02", "r04"}  # in params
    assert _ids(store, search="baseline") == ["r01"]  # a tag
    assert _ids(store, search="PROMISING") == ["r01"]  # the note
    assert _ids(store, tag="lr-sweep") == ["r01"] and _ids(store, tag="lr") == []
    assert _ids(store, search="100%") == [] and _ids(store, search="_") == []  # no wildcards


def test_duration_sums_the_running_stretches_and_leaves_out_pauses(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    store.transition("r1", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
    time.sleep(0.3)
    store.transition("r1", from_=[RunStatus.RUNNING], to=RunStatus.PAUSED)
    time.sleep(0.5)  # held: not counted
    store.transition("r1", from_=[RunStatus.PAUSED], to=RunStatus.RUNNING)
    time.sleep(0.2)
    store.transition("r1", from_=[RunStatus.RUNNING], to=RunStatus.COMPLETED)
    run = store.get_run("r1")
    assert run is not None and 0.5 <= run.duration < 0.75


def test_a_run_whose_server_died_ends_at_its_last_message_not_at_the_restart(
    store: Store,
) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={}, owner="gone:1")
    store.transition("r1", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
    started = utcnow() - timedelta(hours=2)
    with store.engine.begin() as connection:  # it started two hours ago, spoke 60 s later
        connection.execute(update(RunRow).where(RunRow.id == "r1").values(started_at=started))
    last = (started + timedelta(seconds=60)).timestamp()
    store.save_events([{"type": "batch", "run_id": "r1", "seq": 1, "time": last}])
    assert interrupt_orphans(store, "here:2") == ["r1"]
    run = store.get_run("r1")
    assert run is not None and run.status == "interrupted"
    assert run.duration == pytest.approx(60, abs=0.01)
    assert run.finished_at is not None
    assert abs((run.finished_at - started).total_seconds() - 60) < 0.01

"""What SQLite's single writer hides and PostgreSQL exposes: runs that write their stats at the
same time, the list page reading while they write, and racing state transitions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from app.db import RunStatus, Store, init_db, make_engine

MESSAGES_PER_RUN = 60
EPOCH_EVERY = 10  # every tenth message is an epoch summary, the rest batch losses


@pytest.fixture
def store(database_url: str):
    engine = make_engine(database_url)
    init_db(engine)
    yield Store(engine)
    engine.dispose()


def _messages(run_id: str) -> list[dict]:
    return [
        {
            "type": "epoch" if seq % EPOCH_EVERY == 0 else "batch",
            "run_id": run_id,
            "seq": seq,
            "time": float(seq),
            "loss": 1.0 / seq,
        }
        for seq in range(1, MESSAGES_PER_RUN + 1)
    ]


def _in_threads(*targets: Callable[[], None]) -> list[BaseException]:
    """Run the targets at once; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(target: Callable[[], None]) -> None:
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


@pytest.mark.timeout(120)
def test_two_runs_write_stats_while_the_list_page_reads(store: Store):
    run_ids = ["run-a", "run-b"]
    for run_id in run_ids:
        store.create_run(run_id=run_id, name=run_id, recipe="mlp", params={"epochs": 6})
        assert store.transition(run_id, from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
    writing = threading.Event()
    writing.set()
    reads: list[int] = []

    def writer(run_id: str) -> Callable[[], None]:
        def write() -> None:
            messages = _messages(run_id)
            for start in range(0, len(messages), 3):  # the hub persists in small batches
                store.save_events(messages[start : start + 3])

        return write

    def list_page() -> None:
        seen_latest = dict.fromkeys(run_ids, 0)
        while writing.is_set():
            runs, total = store.list_runs(limit=10)
            assert total == 2 and {run.id for run in runs} == set(run_ids)
            for run in runs:
                seq = run.latest["seq"] if run.latest else 0
                assert seq >= seen_latest[run.id], "latest went backwards"
                seen_latest[run.id] = seq
                # Each save is one transaction: a reader sees a gap-free prefix of the log.
                logged = [m["seq"] for m in store.events_after(run.id)]
                assert logged == list(range(1, len(logged) + 1))
            reads.append(1)

    def writers() -> None:
        try:
            assert _in_threads(writer("run-a"), writer("run-b")) == []
        finally:
            writing.clear()

    assert _in_threads(writers, list_page) == []
    assert reads, "the list page never read while the runs wrote"
    for run_id in run_ids:
        assert [m["seq"] for m in store.events_after(run_id)] == list(
            range(1, MESSAGES_PER_RUN + 1)
        )
        run = store.get_run(run_id)
        assert run is not None and run.latest is not None
        assert run.latest["seq"] == MESSAGES_PER_RUN
        assert len(store.metric_events(run_id)[0]) == MESSAGES_PER_RUN // EPOCH_EVERY


@pytest.mark.timeout(120)
def test_racing_transitions_have_exactly_one_winner(store: Store):
    """A stop request and the worker finishing at the same moment: one outcome, not both."""
    for attempt in range(10):
        run_id = f"race-{attempt}"
        store.create_run(run_id=run_id, name=run_id, recipe="mlp", params={})
        store.transition(run_id, from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
        won: list[RunStatus] = []

        def finish(outcome: RunStatus, run_id: str = run_id, won: list = won) -> Callable:
            def go() -> None:
                if store.transition(run_id, from_=[RunStatus.RUNNING], to=outcome):
                    won.append(outcome)

            return go

        outcomes = (RunStatus.COMPLETED, RunStatus.STOPPED, RunStatus.FAILED)
        assert _in_threads(*(finish(o) for o in outcomes)) == []
        assert len(won) == 1
        run = store.get_run(run_id)
        assert run is not None and run.status == won[0].value


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_list_page_reads_while_two_served_runs_train(server_factory):
    """Through the service: two workers train at once while the list page is polled."""
    server = server_factory(workers=2)
    with server.client() as client:
        run_ids = [
            client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 3}})
            .raise_for_status()
            .json()["id"]
            for _ in range(2)
        ]
        both_running = False
        deadline = time.monotonic() + 180
        while True:
            page = client.get("/api/runs").raise_for_status().json()
            statuses = {run["id"]: run["status"] for run in page["items"]}
            assert page["total"] == 2 and set(statuses) == set(run_ids)
            both_running |= list(statuses.values()) == ["running", "running"]
            if all(s not in ("queued", "running") for s in statuses.values()):
                break
            assert time.monotonic() < deadline, f"runs did not finish: {statuses}"
            time.sleep(0.1)
        assert both_running, "the two runs never trained at the same time"
        assert set(statuses.values()) == {"completed"}
        for run_id in run_ids:
            events = client.get(f"/api/runs/{run_id}/events").raise_for_status().json()
            assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
            assert [m["epoch"] for m in events if m["type"] == "epoch"] == [0, 1, 2]

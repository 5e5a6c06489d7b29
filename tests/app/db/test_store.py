"""The store against SQLite and PostgreSQL: runs, transitions, callbacks, the event log."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.db import RunStatus, Store, init_db, make_engine
from app.runs.owners import interrupt_orphans, this_process


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    init_db(engine)
    yield Store(engine)
    engine.dispose()


def _message(run_id: str, seq: int, kind: str = "batch", **fields: object) -> dict[str, object]:
    return {"type": kind, "run_id": run_id, "seq": seq, "time": 1.0 + seq, **fields}


def test_a_run_round_trips_with_its_callbacks(store: Store) -> None:
    store.create_run(
        run_id="r1",
        name="first",
        recipe="mlp",
        params={"lr": 0.1, "epochs": 2},
        callbacks=[("c1", "early_stopping", {"patience": 2})],
    )
    run = store.get_run("r1")
    assert run is not None
    assert (run.name, run.recipe, run.params, run.status) == (
        "first",
        "mlp",
        {"lr": 0.1, "epochs": 2},
        "queued",
    )
    assert [(cb.id, cb.name, cb.params) for cb in run.callbacks] == [
        ("c1", "early_stopping", {"patience": 2})
    ]
    assert run.created_at.tzinfo is not None
    assert store.get_run("missing") is None


def test_a_transition_happens_once_even_when_two_threads_race(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def start() -> None:
        barrier.wait()
        wins.append(store.transition("r1", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1
    run = store.get_run("r1")
    assert run is not None and run.status == "running" and run.started_at is not None


def test_finishing_sets_finished_at_and_the_stop_reason(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    store.transition("r1", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
    reason = {"source": "user", "message": "stopped", "epoch": 1, "iter": 40, "details": {}}
    assert store.transition(
        "r1", from_=[RunStatus.RUNNING], to=RunStatus.STOPPED, stop_reason=reason
    )
    run = store.get_run("r1")
    assert run is not None
    assert run.status == "stopped" and run.stop_reason == reason and run.finished_at is not None
    assert not store.transition("r1", from_=[RunStatus.RUNNING], to=RunStatus.COMPLETED)


def test_unfinished_runs_become_interrupted(store: Store) -> None:
    for run_id in ("queued", "running", "done"):
        store.create_run(run_id=run_id, name=run_id, recipe="mlp", params={})
    store.transition("running", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
    store.transition("done", from_=[RunStatus.QUEUED], to=RunStatus.COMPLETED)
    assert sorted(interrupt_orphans(store, this_process())) == ["queued", "running"]
    statuses = {run.id: run.status for run in store.list_runs()[0]}
    assert statuses == {"queued": "interrupted", "running": "interrupted", "done": "completed"}


def test_list_runs_pages_newest_first_and_filters(store: Store) -> None:
    for index in range(5):
        store.create_run(run_id=f"r{index}", name=str(index), recipe="mlp", params={})
    store.transition("r1", from_=[RunStatus.QUEUED], to=RunStatus.FAILED, error="boom")
    page, total = store.list_runs(limit=2, offset=1)
    assert total == 5 and [run.id for run in page] == ["r3", "r2"]
    failed, total = store.list_runs(["failed"])
    assert total == 1 and failed[0].error == "boom"


def test_events_replay_after_a_seq_and_epochs_become_latest(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    store.create_run(run_id="r2", name="n", recipe="mlp", params={})
    epoch = _message("r1", 2, "epoch", epoch=0, train={"loss": 1.0}, valid={"loss": 2.0})
    store.save_events([_message("r1", 1, loss=3.0), epoch, _message("r2", 1)])
    store.save_events([_message("r1", 3, loss=2.5)])
    assert [m["seq"] for m in store.events_after("r1", 1)] == [2, 3]
    assert store.events_after("r1", 0, limit=1) == [_message("r1", 1, loss=3.0)]
    assert store.last_seq("r1") == 3 and store.last_seq("nothing") == 0
    run = store.get_run("r1")
    assert run is not None and run.latest == epoch


def test_a_late_epoch_message_leaves_a_finished_runs_latest_alone(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    last = _message("r1", 3, "epoch", epoch=1)
    store.transition("r1", from_=[RunStatus.QUEUED], to=RunStatus.STOPPED, latest=last)
    store.save_events([_message("r1", 2, "epoch", epoch=0)])  # an older epoch, saved late
    run = store.get_run("r1")
    assert run is not None and run.latest == last


def test_a_duplicate_seq_is_refused(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    store.save_events([_message("r1", 1)])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.save_events([_message("r1", 1)])
    assert len(store.events_after("r1")) == 1


def test_metric_events_are_the_epoch_and_batch_messages_in_order(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    batches = [_message("r1", seq, iter=seq, loss=1.0 / seq) for seq in range(1, 101)]
    epoch = _message("r1", 101, "epoch", epoch=0, train={}, valid={})
    status = _message("r1", 102, "status", status="completed")
    store.save_events([*batches, epoch, status])
    epochs, batch_messages = store.metric_events("r1")
    assert [e["epoch"] for e in epochs] == [0]
    assert [b["iter"] for b in batch_messages] == list(range(1, 101))


def test_metric_events_skip_the_batches_of_epochs_that_carry_their_own_curve(
    store: Store,
) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={})
    curve = {"iter": [1, 2], "loss": [0.5, 0.4], "lr": [0.1, 0.1]}
    store.save_events(
        [
            _message("r1", 1, iter=1, loss=0.5, epoch=0),
            _message("r1", 2, iter=2, loss=0.4, epoch=0),
            _message("r1", 3, "epoch", epoch=0, train={}, valid={}, batches=curve),
            _message("r1", 4, iter=3, loss=0.3, epoch=1),
        ]
    )
    epochs, batch_messages = store.metric_events("r1")
    assert [e["epoch"] for e in epochs] == [0]
    assert [b["iter"] for b in batch_messages] == [3]  # epoch 0's live batches: in its curve
    assert store.epoch_events("r1") == epochs


def test_concurrent_writers_of_two_runs_lose_nothing(store: Store) -> None:
    for run_id in ("a", "b"):
        store.create_run(run_id=run_id, name=run_id, recipe="mlp", params={})

    def write(run_id: str) -> None:
        for start in range(1, 200, 10):
            store.save_events([_message(run_id, seq) for seq in range(start, start + 10)])
            store.transition(run_id, from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)

    threads = [threading.Thread(target=write, args=(run_id,)) for run_id in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for run_id in ("a", "b"):
        assert [m["seq"] for m in store.events_after(run_id)] == list(range(1, 201))


def test_deleting_a_run_removes_its_events_and_callbacks(store: Store) -> None:
    store.create_run(run_id="r1", name="n", recipe="mlp", params={}, callbacks=[("c", "x", {})])
    store.create_run(run_id="r2", name="n", recipe="mlp", params={})
    store.save_events([_message("r1", 1), _message("r2", 1)])
    store.delete_run("r1")
    assert store.get_run("r1") is None and store.events_after("r1") == []
    assert store.remove_callback("r1", "c") is False
    assert len(store.events_after("r2")) == 1

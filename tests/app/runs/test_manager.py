"""RunManager's decisions, against a backend that records what it is asked to do.

The manager decides what happens to a run (states, rows, messages); these tests play the
backend's part by hand (`begin`, `end`) and check the rows, the messages and the commands.
The same flows against real worker threads and a real server are in tests/app/api/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.catalog import CallbackCatalog, callback_catalog, recipe_registry
from app.config import Settings
from app.db import Store, init_db, make_engine
from app.live.messages import StopSource
from app.runs import InvalidRequest, RunManager, RunNotFound, RunStateConflict
from app.runs.backends import (
    Attach,
    Command,
    CommandRefused,
    Detach,
    Launch,
    Placement,
    Resources,
    RunOutcome,
    RunReporter,
    Stop,
)

HERE = Placement(backend="recording", host="test-host", pid=1234)


class RecordingBackend:
    """Executes nothing: records what the manager asks, and says yes to commands for the
    runs the test marked as executing."""

    name = "recording"

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.commands: list[tuple[str, Command]] = []
        self.executing: set[str] = set()
        self.refuse: str | None = None
        self.shut_down = False

    def start(self, reporter: RunReporter) -> None:
        self.reporter = reporter

    def submit(self, run_id: str, resources: Resources) -> None:
        self.submitted.append(run_id)
        self.resources = resources

    def control(self, run_id: str, command: Command) -> bool:
        self.commands.append((run_id, command))
        if self.refuse is not None:
            raise CommandRefused(self.refuse)
        return run_id in self.executing

    def shutdown(self, timeout: float) -> None:
        self.shut_down = True

    def capacity(self) -> Resources:
        return Resources(cpus=4, gpus=1)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": 1}


class RecordingHub:
    """Numbers messages per run as EventHub does, and keeps them in a list."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._next: dict[str, int] = {}
        self._observers: list[Any] = []

    def observe(self, observer: Any) -> None:
        self._observers.append(observer)

    def open_run(self, run_id: str, last_seq: int = 0) -> None:
        self._next[run_id] = max(self._next.get(run_id, 1), last_seq + 1)

    def publish(self, run_id: str, message: dict[str, Any]) -> dict[str, Any]:
        seq = self._next[run_id]
        self._next[run_id] = seq + 1
        stamped = {**message, "run_id": run_id, "seq": seq}
        self.messages.append(stamped)
        for observe in self._observers:
            observe(stamped)
        return stamped

    def of(self, run_id: str, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["run_id"] == run_id and m["type"] == kind]


class CountingCatalog(CallbackCatalog):
    """The real catalog's entries, counting how often parameters are validated."""

    def __init__(self) -> None:
        super().__init__()
        for spec in callback_catalog:
            self.add(spec)
        self.validations = 0

    def validate_params(self, name, params, *, monitors=None):  # type: ignore[no-untyped-def]
        self.validations += 1
        return super().validate_params(name, params, monitors=monitors)


@pytest.fixture
def parts(tmp_path) -> Iterator[tuple[RunManager, RecordingBackend, RecordingHub, Store]]:
    settings = Settings(data_dir=tmp_path, workers=1)
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    init_db(engine)
    store, hub, backend = Store(engine), RecordingHub(), RecordingBackend()
    catalog = CountingCatalog()
    manager = RunManager(settings, store, hub, recipe_registry, catalog, backend)  # type: ignore[arg-type]
    manager.start()
    yield manager, backend, hub, store
    engine.dispose()


def _started(manager: RunManager, backend: RecordingBackend, **params: Any) -> tuple[str, Launch]:
    row = manager.create("mlp", params, [])
    launch = manager.begin(row.id, HERE)
    assert launch is not None
    backend.executing.add(row.id)
    return row.id, launch


def test_create_queues_the_run_and_submits_it_once(parts) -> None:
    manager, backend, hub, _ = parts
    row = manager.create("mlp", {"epochs": 2}, [("early_stopping", {"patience": 1})], "mine")
    assert row.status == "queued" and row.name == "mine"
    assert row.params["epochs"] == 2 and row.params["lr"] == 0.03  # defaults filled in
    assert backend.submitted == [row.id]
    assert [m["status"] for m in hub.of(row.id, "status")] == ["queued"]


def test_an_invalid_request_changes_nothing(parts) -> None:
    manager, backend, hub, store = parts
    with pytest.raises(InvalidRequest) as excinfo:
        manager.create("mlp", {"lr": -1}, [("early_stopping", {"patience": -2})])
    locs = [e["loc"] for e in excinfo.value.errors]
    assert locs == [["params", "lr"]]  # the params fail first; callbacks are not looked at
    with pytest.raises(InvalidRequest) as excinfo:
        manager.create("mlp", {}, [("early_stopping", {"patience": -2}), ("nope", {})])
    assert [e["loc"] for e in excinfo.value.errors] == [
        ["callbacks", 0, "params", "patience"],
        ["callbacks", 1, "name"],
    ]
    assert backend.submitted == [] and hub.messages == [] and store.list_runs()[1] == 0


def test_begin_marks_the_run_running_and_hands_over_typed_parameters(parts) -> None:
    manager, _backend, _hub, _ = parts
    row = manager.create("mlp", {"epochs": 4}, [("early_stopping", {"patience": 1})])
    launch = manager.begin(row.id, HERE)
    assert launch is not None and launch.run_id == row.id
    assert launch.params.epochs == 4 and type(launch.params).__name__ == "MLPParams"
    (callback,) = launch.callbacks
    assert callback.name == "early_stopping" and callback.params.patience == 1  # type: ignore[attr-defined]
    assert callback.id == row.callbacks[0].id
    assert manager.get(row.id).status == "running"
    assert manager.load() == {"backend": "recording", "workers": 1, "running": 1, "queued": 0}


def test_a_run_asks_its_resources_and_records_where_it_was_placed(parts) -> None:
    manager, backend, _hub, _ = parts
    row = manager.create("mlp", {}, [], resources={"gpus": 1, "cpus": None})
    assert backend.resources == Resources(cpus=1.0, gpus=1.0)  # cpus: the settings' default
    assert manager.get(row.id).resources == {"cpus": 1.0, "gpus": 1.0}
    assert manager.get(row.id).placement is None  # queued: not placed yet
    manager.begin(row.id, HERE)
    assert manager.get(row.id).placement == {
        "backend": "recording",
        "host": "test-host",
        "pid": 1234,
        "node": None,
    }


def test_resources_larger_than_any_node_are_refused_by_field(parts) -> None:
    manager, backend, hub, store = parts
    with pytest.raises(InvalidRequest) as excinfo:
        manager.create("mlp", {}, [], resources={"cpus": 8, "gpus": 2})
    errors = {tuple(e["loc"]): e["msg"] for e in excinfo.value.errors}
    assert errors == {
        ("resources", "cpus"): "8 asked, but the largest node has 4",
        ("resources", "gpus"): "2 asked, but the largest node has 1",
    }
    assert backend.submitted == [] and hub.messages == [] and store.list_runs()[1] == 0


def test_stopping_a_queued_run_cancels_it_and_begin_then_refuses(parts) -> None:
    manager, backend, hub, _ = parts
    row = manager.create("mlp", {}, [])
    stopped = manager.stop(row.id)
    assert stopped.status == "stopped"
    assert stopped.stop_reason["source"] == StopSource.USER.value
    assert backend.commands == [(row.id, Stop(StopSource.USER, "stopped by user"))]
    assert manager.begin(row.id, HERE) is None  # the worker that picks it up executes nothing
    assert [m["status"] for m in hub.of(row.id, "status")] == ["queued", "stopped"]


def test_stopping_a_running_run_is_one_command_and_its_end_says_stopped(parts) -> None:
    manager, backend, hub, _ = parts
    run_id, _ = _started(manager, backend)
    assert manager.stop(run_id).status == "running"  # honoured at the next batch
    assert backend.commands == [(run_id, Stop(StopSource.USER, "stopped by user"))]
    reason = {"source": "user", "message": "stopped by user", "epoch": 1, "iter": 30}
    epoch = {"type": "epoch", "epoch": 1, "train": {}, "valid": {}, "batches": {}}
    manager.end(run_id, RunOutcome(stop_reason=reason | {"details": {}}, last_epoch=epoch))
    row = manager.get(run_id)
    assert row.status == "stopped" and row.stop_reason["iter"] == 30
    assert row.latest == {"type": "epoch", "epoch": 1, "train": {}, "valid": {}}
    final = hub.of(run_id, "status")[-1]
    assert final["status"] == "stopped" and final["stop_reason"]["source"] == "user"
    with pytest.raises(RunStateConflict, match="is stopped"):
        backend.executing.discard(run_id)
        manager.stop(run_id)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (RunOutcome(), "completed"),
        (RunOutcome(error="ValueError: boom"), "failed"),
        (RunOutcome(stop_reason={"source": "shutdown", "message": "m"}), "interrupted"),
        (RunOutcome(stop_reason={"source": "early_stopping", "message": "m"}), "early_stopped"),
    ],
)
def test_the_outcome_decides_the_final_status(parts, outcome: RunOutcome, status: str) -> None:
    manager, backend, hub, _ = parts
    run_id, _ = _started(manager, backend)
    manager.end(run_id, outcome)
    row = manager.get(run_id)
    assert row.status == status and row.error == outcome.error
    assert hub.of(run_id, "status")[-1]["status"] == status


def test_attach_to_a_running_run_validates_once_and_sends_one_command(parts) -> None:
    manager, backend, hub, _store = parts
    run_id, _ = _started(manager, backend)
    before = manager.callbacks.validations  # type: ignore[attr-defined]
    row = manager.attach(run_id, "early_stopping", {"patience": 2})
    assert manager.callbacks.validations == before + 1  # type: ignore[attr-defined]
    ((sent_to, command),) = backend.commands
    assert sent_to == run_id and isinstance(command, Attach)
    assert command.callback.id == row.id and command.callback.params.patience == 2  # type: ignore[attr-defined]
    assert [cb.id for cb in manager.get(run_id).callbacks] == [row.id]
    (message,) = hub.of(run_id, "callback")
    assert message["action"] == "attached" and message["params"]["patience"] == 2

    manager.detach(run_id, row.id)
    assert backend.commands[-1] == (run_id, Detach(row.id))
    assert manager.get(run_id).callbacks == []
    assert [m["action"] for m in hub.of(run_id, "callback")] == ["attached", "detached"]


def test_attach_to_a_queued_run_is_stored_and_joins_its_launch(parts) -> None:
    manager, backend, _, _ = parts
    row = manager.create("mlp", {}, [])
    attached = manager.attach(row.id, "time_limit", {"seconds": 5})
    assert backend.commands == []  # nothing executes yet
    launch = manager.begin(row.id, HERE)
    assert launch is not None and [cb.id for cb in launch.callbacks] == [attached.id]


def test_a_refused_or_invalid_attach_changes_nothing(parts) -> None:
    manager, backend, hub, _ = parts
    run_id, _ = _started(manager, backend)
    with pytest.raises(InvalidRequest) as excinfo:
        manager.attach(run_id, "early_stopping", {"monitor": "valid_f1"})
    assert excinfo.value.errors[0]["loc"] == ["params", "monitor"]
    backend.refuse = "RuntimeError: cannot build"
    with pytest.raises(InvalidRequest, match="cannot build") as excinfo:
        manager.attach(run_id, "early_stopping", {})
    assert excinfo.value.errors[0]["loc"] == ["params"]
    assert manager.get(run_id).callbacks == [] and hub.of(run_id, "callback") == []


def test_finished_and_unknown_runs_are_refused_by_name(parts) -> None:
    manager, backend, _, _ = parts
    run_id, _ = _started(manager, backend)
    manager.end(run_id, RunOutcome())
    backend.executing.clear()
    with pytest.raises(RunStateConflict, match="is completed: cannot attach"):
        manager.attach(run_id, "early_stopping", {})
    with pytest.raises(RunStateConflict, match="only paused or interrupted"):
        manager.resume(run_id)
    with pytest.raises(RunNotFound):
        manager.stop("missing")
    with pytest.raises(RunNotFound):
        manager.detach(run_id, "missing")


def test_shutdown_interrupts_queued_runs_and_stops_the_backend(parts) -> None:
    manager, backend, hub, _ = parts
    row = manager.create("mlp", {}, [])
    manager.shutdown()
    assert backend.shut_down
    assert manager.get(row.id).status == "interrupted"
    assert manager.begin(row.id, HERE) is None
    assert hub.of(row.id, "status")[-1]["stop_reason"]["source"] == "shutdown"


def test_a_run_holds_at_most_32_callbacks_however_they_came(parts) -> None:
    manager, backend, _, _ = parts
    with pytest.raises(InvalidRequest, match="at most 32"):
        manager.create("mlp", {}, [("terminate_on_nan", {})] * 33)
    run_id, _ = _started(manager, backend)
    for _ in range(32):
        manager.attach(run_id, "terminate_on_nan", {})
    with pytest.raises(RunStateConflict, match="it has 32 callbacks"):
        manager.attach(run_id, "terminate_on_nan", {})
    assert len(manager.get(run_id).callbacks) == 32

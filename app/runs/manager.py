"""RunManager: owns every run of this process, from the request to its last status message.

The manager decides *what* happens to a run: its states, its rows and its messages. Where
the run's Runner executes is its `RunBackend`'s business (`app.runs.backends`); the manager
hands it run ids and commands, and hears back through the `RunReporter` methods (`begin`,
`publish`, `end`). Every change of state is one conditional UPDATE in the store, then one
`status` message.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.catalog import CallbackCatalog, RecipeRegistry
from app.catalog.recipes import MAX_EPOCHS
from app.config import Settings
from app.db import RunStatus, Store
from app.db.models import CallbackRow, RunRow
from app.live.hub import EventHub
from app.live.messages import (
    StopSource,
    callback_message,
    fork_message,
    resumed_message,
    status_message,
    stop_reason_dict,
    summary,
)
from app.runs.backends import (
    Attach,
    AttachedCallback,
    Command,
    CommandRefused,
    Detach,
    Evaluate,
    Launch,
    Pause,
    Placement,
    Resources,
    Resume,
    RunBackend,
    RunOutcome,
    SetHyper,
    Snapshot,
    Stop,
)
from app.runs.backends.remote import RemoteBackend
from app.runs.checkpoints import latest_checkpoint
from app.runs.errors import InvalidRequest, RunNotFound, RunStateConflict
from app.runs.forks import FORK_CHECKPOINT, ForkWait, fork_point_of, plan_fork
from app.runs.owners import interrupt_orphans, this_process
from app.runs.requests import MAX_CALLBACKS_PER_RUN, HyperValues, RequestValidator, RunRequest
from trainer import load_checkpoint
from trainer.reporting.catalog import ATTACHABLE as CLIENT_ATTACHABLE

__all__ = ["RunManager"]

log = logging.getLogger(__name__)

# How long a fork request waits for a live parent's snapshot: one batch, normally; a parent
# paused during validation takes it only once resumed.
FORK_SNAPSHOT_TIMEOUT_S = 30.0


class RunManager:
    """Creates, queues, stops, resumes and deletes runs; the API's only way to change one.

    Also the `RunReporter` of its backend: `begin`, `publish` and `end` are called from
    wherever the backend executes runs.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        hub: EventHub,
        recipes: RecipeRegistry,
        callbacks: CallbackCatalog,
        backend: RunBackend,
        *,
        remote: RemoteBackend | None = None,
    ) -> None:
        self.settings, self.store, self.hub, self.backend = settings, store, hub, backend
        self.remote = remote  # runs trained by their own clients, steered over their sockets
        self.recipes, self.callbacks = recipes, callbacks
        self.requests = RequestValidator(
            recipes,
            callbacks,
            settings.datasets_dir,
            default_resources=Resources(cpus=settings.run_cpus, gpus=settings.run_gpus),
            capacity=backend.capacity,
        )
        self._lock = threading.RLock()  # orders state changes against the backend's begin/end
        self._queued: set[str] = set()  # submitted to the backend, not begun
        self._running: set[str] = set()  # begun, not ended
        self._resume_from: dict[str, Path] = {}
        self._pause_timers: dict[str, threading.Timer] = {}
        self._forks: dict[str, ForkWait] = {}  # by fork id: snapshots asked of live parents
        self._forks_lock = threading.Lock()  # not `_lock`: answered under the hub's lock
        hub.observe(self._fork_answered)  # a live parent's `fork` message, from any backend
        self._closing = False
        self.owner = this_process()  # recorded on every run this manager creates or resumes

    # --- lifecycle of the manager -----------------------------------------------------------

    def start(self) -> None:
        """Mark runs whose owning process is gone as interrupted; start the backend.

        Runs another live process is training (a server, `fitboard run`) stay as they are.
        """
        for run_id in interrupt_orphans(self.store, self.owner):
            self.hub.open_run(run_id, self.store.last_seq(run_id))
            row = self.get(run_id)
            self._publish_status(run_id, row.status, row.stop_reason, row.error)
        self.backend.start(self)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop running runs at their next batch (they become interrupted), then the backend."""
        with self._lock:
            self._closing = True
            for run_id in sorted(self._queued):
                self._finish_queued(run_id, RunStatus.INTERRUPTED, "the server shut down")
        self.backend.shutdown(timeout)  # outside the lock: runs end through `end`, which takes it

    def load(self) -> dict[str, Any]:
        """The backend, its capacity, and how many runs train and wait now."""
        with self._lock:
            counts = {"running": len(self._running), "queued": len(self._queued)}
        return {**self.backend.describe(), **counts}

    # --- requests ---------------------------------------------------------------------------

    def create(
        self,
        recipe: str,
        params: dict[str, Any],
        callbacks: list[tuple[str, dict[str, Any]]],
        name: str | None = None,
        resources: dict[str, float | None] | None = None,
    ) -> RunRow:
        """Validate a run request and queue it; InvalidRequest names each bad field."""
        return self.create_checked(self.requests.run(recipe, params, callbacks, name, resources))

    def create_checked(
        self, request: RunRequest, *, trial: tuple[str, int] | None = None
    ) -> RunRow:
        """Queue an already validated run request; `trial` (sweep id, trial number) tags a
        sweep's trial."""
        run_id = _new_id(6)
        sweep_id, trial_number = trial or (None, None)
        with self._lock:
            row = self._insert(
                request,
                run_id,
                f"{request.recipe}-{run_id[:6]}",
                sweep_id=sweep_id,
                trial_number=trial_number,
            )
            self.hub.open_run(run_id)
            self._enqueue(row)
        return row

    def find_lr(
        self,
        recipe: str,
        params: dict[str, Any],
        finder: dict[str, Any],
        resources: dict[str, float | None] | None = None,
    ) -> RunRow:
        """Queue an LR finder: a run of `recipe` whose fit is the `lr_find` sweep (`finder`
        are its parameters); its `lr_find` message carries the curve and the suggestion."""
        # The recipe and its parameters first (their errors name `recipe`, `params.<x>`).
        request = self.requests.run(recipe, {**params, "epochs": MAX_EPOCHS}, (), None, resources)
        try:
            sweep = self.requests.callback(recipe, "lr_find", finder)
        except InvalidRequest as exc:  # the finder's own fields: `finder.max_lr`
            located = [{**e, "loc": ["finder", *e["loc"][1:]]} for e in exc.errors]
            raise InvalidRequest(located) from None
        # The sweep ends the fit after `max_iter` batches: enough epochs for that many, as
        # every epoch has at least one batch.
        epochs = min(sweep.params.max_iter, MAX_EPOCHS)  # type: ignore[attr-defined]
        params_ = request.params.model_copy(update={"epochs": epochs})
        request = dataclasses.replace(request, params=params_)
        name = f"lr-find {recipe}"
        return self.create_checked(dataclasses.replace(request, callbacks=(sweep,), name=name))

    def lr_find_result(self, run_id: str) -> dict[str, Any]:
        """The `lr_find` message of a finished LR finder run (RunNotFound if it has none,
        RunStateConflict while it still sweeps)."""
        row = self.get(run_id)
        result = self.store.last_event(run_id, "lr_find")
        if result is not None:
            return result
        if not RunStatus(row.status).finished:
            raise RunStateConflict(run_id, row.status, "read its LR finder result", " yet")
        raise RunNotFound(f"run {run_id} has no LR finder result")

    def get(self, run_id: str) -> RunRow:
        """The run, or RunNotFound."""
        row = self.store.get_run(run_id)
        if row is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        return row

    def stop(
        self,
        run_id: str,
        source: StopSource = StopSource.USER,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> RunRow:
        """Stop a run: one executing here at its next batch, a queued one at once (cancelled).
        `message` and `details` (a pruner's values) go into its stop reason.

        RunStateConflict names the state of a run that cannot be stopped from here.
        """
        default = "stopped by user" if source is StopSource.USER else "stopped"
        command = Stop(source, message or default, details)
        with self._lock:
            if self._control(run_id, command):
                return self.get(run_id)
            row = self.get(run_id)
            if row.status == RunStatus.QUEUED.value and run_id in self._queued:
                message = "cancelled by user before it started"
                self._finish_queued(run_id, RunStatus.STOPPED, message)
                return self.get(run_id)
            raise RunStateConflict(run_id, row.status, "stop it", _elsewhere(row))

    def pause(self, run_id: str) -> RunRow:
        """Hold a running run at its next batch boundary (then `paused`); it keeps its worker
        and its state in memory."""
        with self._lock:
            row = self.get(run_id)
            if row.status != RunStatus.RUNNING.value or not self._executes(run_id):
                raise RunStateConflict(run_id, row.status, "pause it", _elsewhere(row))
            self._control(run_id, Pause())
        return row

    def set_hypers(self, run_id: str, values: HyperValues | dict[str, Any]) -> RunRow:
        """Set optimizer hyperparameters of a running (or paused) run at its next batch; a
        `hyper` message says at which iteration they took effect."""
        checked = self.requests.hypers(values)
        with self._lock:
            row = self.get(run_id)
            live = row.status in (RunStatus.RUNNING.value, RunStatus.PAUSED.value)
            if not live or not self._control(run_id, SetHyper(checked)):
                raise RunStateConflict(run_id, row.status, "set hyperparameters", _elsewhere(row))
        return row

    def evaluate(self, run_id: str) -> RunRow:
        """Run validation at a running run's next batch; an `evaluation` message follows."""
        with self._lock:
            row = self.get(run_id)
            running = row.status == RunStatus.RUNNING.value
            if not running or not self._control(run_id, Evaluate()):
                raise RunStateConflict(run_id, row.status, "evaluate it", _elsewhere(row))
        return row

    def resume(self, run_id: str) -> RunRow:
        """Let a paused run go on in memory, or queue an interrupted run again to continue
        from its newest checkpoint."""
        with self._lock:
            row = self.get(run_id)
            if self._executes(run_id) and row.status in (
                RunStatus.PAUSED.value,
                RunStatus.RUNNING.value,  # a pause asked for, not yet honoured
            ):
                self._control(run_id, Resume())
                return row
            if row.status != RunStatus.INTERRUPTED.value:
                hint = " (only paused or interrupted runs; extend a finished one)"
                raise RunStateConflict(run_id, row.status, "resume it", hint)
            self._requeue_from_checkpoint(row, "resume it")
        return self.get(run_id)

    # --- extend (issue 11): more epochs for a finished run, from its checkpoint ----------

    def extend(self, run_id: str, epochs: int) -> RunRow:
        """Train a completed, stopped or early-stopped run `epochs` more epochs, from its
        newest checkpoint, in the same run: one continuous history. InvalidRequest (at
        `epochs`) when the new total is more than the recipe allows."""
        with self._lock:
            row = self.get(run_id)
            extendable = (RunStatus.COMPLETED, RunStatus.STOPPED, RunStatus.EARLY_STOPPED)
            if RunStatus(row.status) not in extendable:
                hint = " (only completed, stopped or early-stopped runs)"
                raise RunStateConflict(run_id, row.status, "extend it", hint)
            epochs_done = self.store.epoch_events(run_id)
            # The last epoch's number, not a count: a fork's history starts at its fork point.
            done = epochs_done[-1]["epoch"] + 1 if epochs_done else 0
            params = {**row.params, "epochs": done + epochs}
            try:
                self.recipes.validate_params(
                    row.recipe, params, datasets_dir=self.settings.datasets_dir
                )
            except ValidationError as exc:
                errors = [e for e in exc.errors() if e["loc"] == ("epochs",)]
                message = f"{done} + {epochs} epochs: {errors[0]['msg'] if errors else exc}"
                raise InvalidRequest.at(("epochs",), message) from None
            self._requeue_from_checkpoint(row, "extend it", params=params, trained=done)
        return self.get(run_id)

    def _requeue_from_checkpoint(
        self,
        row: RunRow,
        action: str,
        params: dict[str, Any] | None = None,
        trained: int | None = None,
    ) -> None:
        """Queue a finished run again to continue after its newest checkpoint (under the
        lock); a `resumed` message says from where. With `trained` (the epochs in its
        history), a checkpoint older than the last of them is refused: the run would train
        those epochs again and its history would hold them twice."""
        checkpoint = latest_checkpoint(self.settings.run_dir(row.id))
        if checkpoint is None:
            raise RunStateConflict(row.id, row.status, action, ": it has no checkpoint")
        after_epoch = int(load_checkpoint(checkpoint)["epoch"])
        if trained is not None and after_epoch + 1 < trained:
            hint = (
                f": its newest checkpoint, {checkpoint.name}, is from epoch {after_epoch + 1} "
                f"of {trained}, so epochs {after_epoch + 2}-{trained} would train again "
                "(attach a checkpoint with every=epoch to extend a run)"
            )
            raise RunStateConflict(row.id, row.status, action, hint)
        changes: dict[str, Any] = {} if params is None else {"params": params}
        self.store.transition(
            row.id,
            from_=[RunStatus(row.status)],
            to=RunStatus.QUEUED,
            owner=self.owner,
            finished_at=None,
            stop_reason=None,
            error=None,
            **changes,
        )
        self._resume_from[row.id] = checkpoint
        self.hub.open_run(row.id, self.store.last_seq(row.id))
        total = (params or row.params).get("epochs")
        self.hub.publish(row.id, resumed_message(checkpoint.name, after_epoch, total))
        self._enqueue(self.get(row.id))

    # --- fork: a new run from another run's state -------------------------------------------

    def fork(
        self,
        run_id: str,
        params: dict[str, Any] | None = None,
        callbacks: list[tuple[str, dict[str, Any]]] | None = None,
        name: str | None = None,
    ) -> RunRow:
        """Queue a new run that starts where `run_id` is now (a running or paused run: from
        a snapshot before its next training batch; any other: from its newest checkpoint),
        with `params` (epochs and optimizer hyperparameters only) and `callbacks` (default:
        the parent's) changed. The parent goes on untouched."""
        parent = self.get(run_id)
        if parent.external:
            raise RunStateConflict(run_id, parent.status, "fork it", ": it trains in its client")
        kept = [(cb.name, cb.params) for cb in parent.callbacks]
        request, hypers = plan_fork(
            self.requests, parent, params or {}, kept if callbacks is None else callbacks, name
        )
        fork_id = _new_id(6)
        snapshot = self.settings.run_dir(fork_id) / FORK_CHECKPOINT
        try:
            point = self._snapshot_live(run_id, fork_id, snapshot)
            if point is None:
                point = self._snapshot_from_checkpoint(run_id, snapshot)
            if request.params.epochs <= point["epoch"]:
                done = point["epoch"]
                message = (
                    f"the fork continues in epoch {done + 1}: ask for more than {done} "
                    f"epoch{'' if done == 1 else 's'} in all"
                )
                raise InvalidRequest.at(("params", "epochs"), message)
            return self._queue_fork(request, run_id, fork_id, {**point, "hypers": hypers})
        except BaseException:
            shutil.rmtree(snapshot.parent, ignore_errors=True)
            raise

    def forks_of(self, run_id: str) -> list[RunRow]:
        """The runs forked from this one, oldest first."""
        self.get(run_id)
        return self.store.forks_of(run_id)

    def _snapshot_live(self, run_id: str, fork_id: str, path: Path) -> dict[str, int] | None:
        """The fork point of a snapshot taken by the running parent; None if it is not
        running here (or it ended before its next training batch)."""
        waiter = ForkWait(run_id)
        with self._lock:
            row = self.get(run_id)
            live = row.status in (RunStatus.RUNNING.value, RunStatus.PAUSED.value)
            if not live or not self._executes(run_id):
                return None
            with self._forks_lock:
                self._forks[fork_id] = waiter
            if not self._control(run_id, Snapshot(path, fork_id)):
                with self._forks_lock:
                    self._forks.pop(fork_id, None)
                return None
        try:
            if not waiter.wait(FORK_SNAPSHOT_TIMEOUT_S):
                hint = f": it reached no training batch in {FORK_SNAPSHOT_TIMEOUT_S:g} s"
                raise RunStateConflict(run_id, self.get(run_id).status, "fork it", hint)
        finally:
            with self._forks_lock:
                self._forks.pop(fork_id, None)
        answer = waiter.message
        return None if answer is None or answer.get("point") is None else answer["point"]

    def _snapshot_from_checkpoint(self, run_id: str, path: Path) -> dict[str, int]:
        checkpoint = latest_checkpoint(self.settings.run_dir(run_id))
        if checkpoint is None:
            row = self.get(run_id)
            hint = " (fork a running run, or one with a checkpoint)"
            raise RunStateConflict(run_id, row.status, "fork it", f": it has no checkpoint{hint}")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(checkpoint, path)  # the fork's own copy: the parent may be deleted
        return fork_point_of(path)

    def _queue_fork(
        self, request: RunRequest, parent_id: str, fork_id: str, point: dict[str, Any]
    ) -> RunRow:
        with self._lock:
            row = self._insert(request, fork_id, fork_id, parent_id=parent_id, fork_point=point)
            self._resume_from[fork_id] = self.settings.run_dir(fork_id) / FORK_CHECKPOINT
            self.hub.open_run(fork_id)
            self.hub.publish(fork_id, fork_message(parent_id, fork_id, point))
            self._enqueue(row)
        return row

    def _insert(self, request: RunRequest, run_id: str, default_name: str, **tags: Any) -> RunRow:
        """Store a new queued run for a validated request, owned here (under the lock);
        `tags` are a sweep trial's or a fork's own columns."""
        return self.store.create_run(
            run_id=run_id,
            name=request.name or default_name,
            recipe=request.recipe,
            params=request.params_json(),
            callbacks=[(_new_id(8), cb.name, cb.params_json()) for cb in request.callbacks],
            owner=self.owner,
            resources=request.resources.as_dict(),
            **tags,
        )

    def _fork_answered(self, message: dict[str, Any]) -> None:
        """A hub observer: a `fork` message answers the fork request waiting for it."""
        if message.get("type") != "fork":
            return
        with self._forks_lock:
            waiter = self._forks.get(message.get("child_id", ""))
        if waiter is not None:
            waiter.answer(message)

    def _forks_end_with(self, run_id: str) -> None:
        """The parent ended: snapshots it still owes will not come (from the checkpoint)."""
        with self._forks_lock:
            waiting = [w for w in self._forks.values() if w.parent_id == run_id]
        for waiter in waiting:
            waiter.answer(None)

    def delete(self, run_id: str) -> None:
        """Delete a finished run, its history and its directory."""
        with self._lock:
            row = self.get(run_id)
            if not RunStatus(row.status).finished:
                raise RunStateConflict(run_id, row.status, "delete it", "; stop it first")
            self.store.delete_run(run_id)
        shutil.rmtree(self.settings.run_dir(run_id), ignore_errors=True)

    def attach(self, run_id: str, name: str, params: dict[str, Any]) -> CallbackRow:
        """Attach a catalog callback: to a queued run now, to a running one at the next batch."""
        request = self.requests.callback(self.get(run_id).recipe, name, params)
        with self._lock:
            row = self.get(run_id)
            if RunStatus(row.status).finished:
                raise RunStateConflict(run_id, row.status, "attach a callback")
            if len(row.callbacks) >= MAX_CALLBACKS_PER_RUN:
                hint = f": it has {MAX_CALLBACKS_PER_RUN} callbacks, the most a run may hold"
                raise RunStateConflict(run_id, row.status, "attach another callback", hint)
            attached = AttachedCallback(_new_id(8), request.name, request.params)
            if row.external and name not in CLIENT_ATTACHABLE:
                # Its client builds the callback in its own process, from its own table.
                known = ", ".join(CLIENT_ATTACHABLE)
                message = f"{name} cannot join a run trained in its own process; these can: {known}"
                raise InvalidRequest.at(("name",), message)
            if self._executes(run_id) and name == "lr_find":
                # It sets the lr of every batch from the fit's first: it cannot join midway.
                message = "lr_find sweeps a whole fit: start one with POST /api/lr-find"
                raise InvalidRequest.at(("name",), message)
            if self._executes(run_id):
                try:
                    self._control(run_id, Attach(attached))
                except CommandRefused as exc:
                    raise InvalidRequest.at(("params",), str(exc)) from exc
            cb_row = self.store.add_callback(run_id, attached.id, name, request.params_json())
            self._publish_callback(run_id, "attached", cb_row)
        return cb_row

    def detach(self, run_id: str, cb_id: str) -> None:
        """Detach a callback (at the next batch boundary if the run is training)."""
        with self._lock:
            row = self.get(run_id)
            cb_row = next((cb for cb in row.callbacks if cb.id == cb_id), None)
            if cb_row is None:
                raise RunNotFound(f"run {run_id} has no callback with id {cb_id!r}")
            if RunStatus(row.status).finished:
                raise RunStateConflict(run_id, row.status, "detach a callback")
            if self._executes(run_id):
                self._control(run_id, Detach(cb_id))
            self.store.remove_callback(run_id, cb_id)
            self._publish_callback(run_id, "detached", cb_row)

    # --- RunReporter: called by the backend -------------------------------------------------

    def begin(self, run_id: str, placement: Placement) -> Launch | None:
        """Move a queued run to running where `placement` says, and return its Launch; None
        if it left the queue.

        Under the lock, so a callback attached meanwhile is either in the Launch or sent to
        the backend as a command.
        """
        with self._lock:
            self._queued.discard(run_id)
            if self._closing or not self.store.transition(
                run_id,
                from_=[RunStatus.QUEUED],
                to=RunStatus.RUNNING,
                held_by=self.owner,
                placement=placement.as_dict(),
            ):
                return None
            self._running.add(run_id)
            row = self.get(run_id)
            self.hub.publish(run_id, status_message(row.status, placement=row.placement))
            try:
                return self._launch(row)
            except Exception as exc:  # a stored request this version cannot read any more
                self.end(run_id, RunOutcome(error=f"cannot start: {type(exc).__name__}: {exc}"))
                return None

    def publish(self, run_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Number a message the run emitted and hand it to the hub (never blocks)."""
        return self.hub.publish(run_id, message)

    def held(self, run_id: str, paused: bool, epoch: int, iter: int) -> None:
        """The run began or stopped holding at a batch boundary: `paused`, or `running` again."""
        source, target = (
            (RunStatus.RUNNING, RunStatus.PAUSED)
            if paused
            else (RunStatus.PAUSED, RunStatus.RUNNING)
        )
        with self._lock:
            if self.store.transition(run_id, from_=[source], to=target, held_by=self.owner):
                at = {"epoch": epoch, "iter": iter}
                self.hub.publish(run_id, status_message(target.value, at=at))
            self._time_pause(run_id, paused)

    def _time_pause(self, run_id: str, paused: bool) -> None:
        """A paused run holds a worker: after `pause_timeout_s` it is stopped (then
        `interrupted`, resumable from its checkpoint). Under the lock."""
        timer = self._pause_timers.pop(run_id, None)
        if timer is not None:
            timer.cancel()
        if paused:
            timer = threading.Timer(self.settings.pause_timeout_s, self._pause_expired, [run_id])
            timer.daemon = True
            self._pause_timers[run_id] = timer
            timer.start()

    def _pause_expired(self, run_id: str) -> None:
        seconds = self.settings.pause_timeout_s
        message = f"paused longer than FITBOARD_PAUSE_TIMEOUT_S ({seconds:g} s)"
        with self._lock:
            self._pause_timers.pop(run_id, None)
            row = self.store.get_run(run_id)
            if row is not None and row.status == RunStatus.PAUSED.value:
                self._control(run_id, Stop(StopSource.PAUSE_TIMEOUT, message))

    def end(self, run_id: str, outcome: RunOutcome) -> None:
        """Record how a run this manager began has ended, and say so in a status message."""
        status = _final_status(outcome)
        stop_reason = outcome.stop_reason if outcome.error is None else None
        # The run's last epoch goes in with its final status: readers never see one without
        # the other, and the event writer leaves a finished run's `latest` alone.
        epoch = outcome.last_epoch
        last = {"latest": summary(epoch)} if epoch is not None else {}
        self._forks_end_with(run_id)
        with self._lock:
            self._running.discard(run_id)
            self._time_pause(run_id, paused=False)
            if self.store.transition(
                run_id,
                from_=[RunStatus.RUNNING, RunStatus.PAUSED],
                to=status,
                held_by=self.owner,
                stop_reason=stop_reason,
                error=outcome.error,
                **last,
            ):
                self._publish_status(run_id, status.value, stop_reason, outcome.error)
                return
            self._yield_to_other_writer(run_id, status, stop_reason, outcome.error)

    # --- helpers ----------------------------------------------------------------------------

    def _executes(self, run_id: str) -> bool:
        """Whether a Runner executes the run now: begun here, or trained by its own client."""
        return run_id in self._running or (self.remote is not None and self.remote.has(run_id))

    def _control(self, run_id: str, command: Command) -> bool:
        """Deliver `command` where the run executes; False if no backend has it."""
        if self.remote is not None and self.remote.control(run_id, command):
            return True
        return self.backend.control(run_id, command)

    def _launch(self, row: RunRow) -> Launch:
        params = self.recipes.validate_params(
            row.recipe, row.params, datasets_dir=self.settings.datasets_dir
        )
        callbacks = tuple(
            AttachedCallback(cb.id, cb.name, self.callbacks.validate_params(cb.name, cb.params))
            for cb in row.callbacks
        )
        resume_from = self._resume_from.pop(row.id, None)
        # A fork's edits, again each time it starts from its parent's optimizer state.
        from_fork = resume_from is not None and resume_from.name == FORK_CHECKPOINT
        hypers = (row.fork_point or {}).get("hypers") if from_fork else None
        return Launch(
            run_id=row.id,
            recipe=row.recipe,
            params=params,
            callbacks=callbacks,
            run_dir=self.settings.run_dir(row.id),
            resume_from=resume_from,
            hypers=hypers or None,
        )

    def _yield_to_other_writer(
        self, run_id: str, status: RunStatus, stop_reason: Any, error: str | None
    ) -> None:
        """Another process changed the row meanwhile (it interrupted, resumed or deleted the
        run): its write stands. Followers get the stored status, numbered after what that
        process saved (ours, if the row is gone)."""
        row = self.store.get_run(run_id)
        log.warning(
            "run %s ended %s here, but another process changed it (now %s): left as is",
            run_id,
            status.value,
            row.status if row is not None else "deleted",
        )
        if row is None:
            self._publish_status(run_id, status.value, stop_reason, error)
        else:
            self.hub.open_run(run_id, self.store.last_seq(run_id))
            self._publish_status(run_id, row.status, row.stop_reason, row.error)

    def _enqueue(self, row: RunRow) -> None:
        self._queued.add(row.id)
        self._publish_status(row.id, row.status)
        asked = row.resources or self.requests.default_resources.as_dict()
        self.backend.submit(row.id, Resources(**asked))

    def _finish_queued(self, run_id: str, status: RunStatus, message: str) -> None:
        source = StopSource.USER if status is RunStatus.STOPPED else StopSource.SHUTDOWN
        reason = stop_reason_dict(source.value, message)
        self._queued.discard(run_id)
        if self.store.transition(
            run_id, from_=[RunStatus.QUEUED], to=status, held_by=self.owner, stop_reason=reason
        ):
            self._publish_status(run_id, status.value, reason)

    def _publish_status(
        self,
        run_id: str,
        status: str,
        stop_reason: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        self.hub.publish(run_id, status_message(status, stop_reason, error))

    def _publish_callback(self, run_id: str, action: str, cb: CallbackRow) -> None:
        self.hub.publish(run_id, callback_message(action, cb.id, cb.name, cb.params))


def _final_status(outcome: RunOutcome) -> RunStatus:
    if outcome.error is not None:
        return RunStatus.FAILED
    if outcome.stop_reason is None:
        return RunStatus.COMPLETED
    source = outcome.stop_reason["source"]
    if source == StopSource.USER.value:
        return RunStatus.STOPPED
    if source in (StopSource.SHUTDOWN, StopSource.LOST, StopSource.PAUSE_TIMEOUT):
        return RunStatus.INTERRUPTED
    if source == StopSource.PRUNER.value:
        return RunStatus.PRUNED
    return RunStatus.EARLY_STOPPED


def _elsewhere(row: RunRow) -> str:
    if row.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value):
        return f" (it belongs to another fitboard process, {row.owner or 'unknown'})"
    return ""


def _new_id(nbytes: int) -> str:
    return secrets.token_hex(nbytes)

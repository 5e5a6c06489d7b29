"""RunManager: owns every run of this process, from the request to its last status message.

A bounded pool of worker threads takes runs from one FIFO queue; each run is a `trainer`
Runner built from what the store holds (so a resumed run is rebuilt the same way). Every
change of state is one conditional UPDATE in the store and then one `status` message.
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import threading
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from app.catalog import CallbackContext, catalog
from app.config import Settings
from app.db import RunStatus, Store
from app.db.models import CallbackRow, RunRow
from app.db.store import this_process
from app.hub import EventHub
from app.messages import summary
from app.recipes import RecipeRegistry
from app.stats_callback import WebSocketStatsCallback
from app.validation import InvalidRequest, check_callback, check_callbacks, check_run_params
from trainer import AvgStatsCallback, Callback, Runner, StopReason

__all__ = ["RunManager", "RunNotFound", "RunStateConflict"]

log = logging.getLogger(__name__)


class RunNotFound(LookupError):
    """No run (or no callback on the run) has this id."""


class RunStateConflict(Exception):
    """The run's state does not allow the action; the message names the state."""

    def __init__(self, run_id: str, status: str, action: str, hint: str = "") -> None:
        self.status = status
        super().__init__(f"run {run_id} is {status}: cannot {action}{hint}")


@dataclass
class _LiveRun:
    """A run a worker is training: its Runner and its attached callbacks by id."""

    runner: Runner
    stats: WebSocketStatsCallback
    callbacks: dict[str, Callback] = field(default_factory=dict)
    error: str | None = None  # set when the run cannot even start (its callbacks fail to build)


class RunManager:
    """Creates, queues, trains, stops and resumes runs; the API's only way to change one."""

    def __init__(
        self, settings: Settings, store: Store, hub: EventHub, recipes: RecipeRegistry
    ) -> None:
        self.settings, self.store, self.hub, self.recipes = settings, store, hub, recipes
        self._lock = threading.RLock()  # orders state changes against workers picking runs
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._live: dict[str, _LiveRun] = {}
        self._resume_from: dict[str, Path] = {}
        self._workers: list[threading.Thread] = []
        self._closing = False
        self.owner = this_process()  # recorded on every run this manager creates or resumes

    # --- lifecycle of the manager -----------------------------------------------------------

    def start(self) -> None:
        """Mark runs whose owning process is gone as interrupted; start the workers.

        Runs another live process is training (a server, `fitboard run`) stay as they are.
        """
        torch.set_num_threads(self.settings.torch_threads)
        for run_id in self.store.interrupt_unfinished(self.owner):
            self.hub.open_run(run_id, self.store.last_seq(run_id))
            row = self.get(run_id)
            self._publish_status(run_id, row.status, row.stop_reason, row.error)
        for index in range(self.settings.workers):
            worker = threading.Thread(target=self._work, name=f"run-worker-{index}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop running runs at their next batch (they become interrupted), then the workers."""
        with self._lock:
            self._closing = True
            for live in self._live.values():
                live.runner.request_stop("the server is shutting down", source="shutdown")
            for run_id in sorted(self._queued):
                self._finish_queued(run_id, RunStatus.INTERRUPTED, "the server shut down")
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout)

    def load(self) -> dict[str, int]:
        """The pool's size and how many runs train and wait now."""
        with self._lock:
            return {
                "workers": len(self._workers),
                "running": len(self._live),
                "queued": len(self._queued),
            }

    # --- requests ---------------------------------------------------------------------------

    def create(
        self,
        recipe: str,
        params: dict[str, Any],
        callbacks: list[tuple[str, dict[str, Any]]],
        name: str | None = None,
    ) -> RunRow:
        """Validate a run request and queue it; InvalidRequest names each bad field."""
        valid_params = check_run_params(self.recipes, recipe, params, self.settings.datasets_dir)
        checked = check_callbacks(self.recipes, recipe, callbacks)
        run_id = _new_id(6)
        with self._lock:
            row = self.store.create_run(
                run_id=run_id,
                name=name or f"{recipe}-{run_id[:6]}",
                recipe=recipe,
                params=valid_params,
                callbacks=[(_new_id(8), cb_name, cb_params) for cb_name, cb_params in checked],
                owner=self.owner,
            )
            self.hub.open_run(run_id)
            self._enqueue(row)
        return row

    def get(self, run_id: str) -> RunRow:
        """The run, or RunNotFound."""
        row = self.store.get_run(run_id)
        if row is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        return row

    def request_stop(self, run_id: str) -> bool:
        """Ask a run this process is training to stop at its next batch; False if it is not one.

        Touches only memory (never blocks), so an async route can call it on the event loop.
        """
        live = self._live.get(run_id)  # a dict read is atomic; no lock needed to look
        if live is None:
            return False
        live.runner.request_stop("stopped by user", source="user")
        return True

    def stop(self, run_id: str) -> RunRow:
        """Ask a running run to stop at its next batch; cancel a queued one."""
        with self._lock:
            if self.request_stop(run_id):
                return self.get(run_id)
            row = self.get(run_id)
            if row.status == RunStatus.QUEUED.value and run_id in self._queued:
                self._finish_queued(
                    run_id, RunStatus.STOPPED, "cancelled by user before it started"
                )
            else:
                raise RunStateConflict(run_id, row.status, "stop it", _elsewhere(row))
        return self.get(run_id)

    def resume(self, run_id: str) -> RunRow:
        """Queue an interrupted run again, to continue from its newest checkpoint."""
        with self._lock:
            row = self.get(run_id)
            if row.status != RunStatus.INTERRUPTED.value:
                raise RunStateConflict(run_id, row.status, "resume it (only interrupted runs)")
            checkpoint = self._latest_checkpoint(run_id)
            if checkpoint is None:
                raise RunStateConflict(run_id, row.status, "resume it", ": it has no checkpoint")
            self.store.transition(
                run_id,
                from_=[RunStatus.INTERRUPTED],
                to=RunStatus.QUEUED,
                owner=self.owner,
                finished_at=None,
                stop_reason=None,
                error=None,
            )
            self._resume_from[run_id] = checkpoint
            self.hub.open_run(run_id, self.store.last_seq(run_id))
            self._enqueue(self.get(run_id))
        return self.get(run_id)

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
        row = self.get(run_id)
        valid = check_callback(self.recipes, row.recipe, name, params, ("body",))
        with self._lock:
            row = self.get(run_id)
            if RunStatus(row.status).finished:
                raise RunStateConflict(run_id, row.status, "attach a callback")
            cb_id = _new_id(8)
            live = self._live.get(run_id)
            if live is not None:
                try:
                    callback = self._build_callback(run_id, name, valid)
                except Exception as exc:  # valid parameters the callback still refuses
                    message = f"{type(exc).__name__}: {exc}"
                    raise InvalidRequest.at(("body", "params"), message) from exc
                live.runner.add_cbs([callback])
                live.callbacks[cb_id] = callback
            cb_row = self.store.add_callback(run_id, cb_id, name, valid)
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
            live = self._live.get(run_id)
            if live is not None and cb_id in live.callbacks:
                live.runner.remove_cbs([live.callbacks.pop(cb_id)])
            self.store.remove_callback(run_id, cb_id)
            self._publish_callback(run_id, "detached", cb_row)

    # --- workers ----------------------------------------------------------------------------

    def _build_callback(self, run_id: str, name: str, params: dict[str, Any]) -> Callback:
        valid = catalog.validate_params(name, params)
        return catalog.build(name, valid, CallbackContext(run_dir=self.settings.run_dir(run_id)))

    def _enqueue(self, row: RunRow) -> None:
        self._queued.add(row.id)
        self._queue.put(row.id)
        self._publish_status(row.id, row.status)

    def _work(self) -> None:
        torch.set_num_threads(self.settings.torch_threads)  # per thread: set it deliberately
        while (run_id := self._queue.get()) is not None:
            try:
                self._train(run_id)
            except Exception:  # a bug here must not take the worker (and its queue) down
                log.exception("run %s: unexpected error in the manager", run_id)

    def _train(self, run_id: str) -> None:
        live = self._begin(run_id)
        if live is not None:
            error = live.error or self._fit(run_id, live.runner)
            self._end(run_id, live, error)

    def _begin(self, run_id: str) -> _LiveRun | None:
        """Move a queued run to running and build its Runner; None if it left the queue.

        Under the lock, so a callback attached meanwhile is either built here or added live.
        """
        with self._lock:
            self._queued.discard(run_id)
            if self._closing or not self.store.transition(
                run_id, from_=[RunStatus.QUEUED], to=RunStatus.RUNNING, held_by=self.owner
            ):
                return None
            row = self.get(run_id)
            self._publish_status(row.id, row.status)
            error, metrics, callbacks = None, [], {}
            try:
                metrics = list(self.recipes.get(row.recipe).metrics)
                callbacks = {
                    cb.id: self._build_callback(run_id, cb.name, cb.params) for cb in row.callbacks
                }
            except Exception as exc:
                error = f"cannot start: {type(exc).__name__}: {exc}"
            stats = WebSocketStatsCallback(self.hub, run_id)
            runner = Runner(
                cbs=[stats, *callbacks.values()],
                cb_funcs=[partial(AvgStatsCallback, metrics, verbose=False)],
            )
            live = self._live[run_id] = _LiveRun(runner, stats, callbacks, error)
        return live

    def _fit(self, run_id: str, runner: Runner) -> str | None:
        """Build the recipe's Learner and train it; the error message if anything raised."""
        row = self.get(run_id)
        try:
            params = self.recipes.validate_params(
                row.recipe, row.params, datasets_dir=self.settings.datasets_dir
            )
            learn = self.recipes.build(row.recipe, params)
            runner.fit(params.epochs, learn, resume_from=self._resume_from.pop(run_id, None))
        except Exception as exc:
            log.warning("run %s failed", run_id, exc_info=True)
            return f"{type(exc).__name__}: {exc}"
        return None

    def _end(self, run_id: str, live: _LiveRun, error: str | None) -> None:
        reason = live.runner.stop_reason
        status = _final_status(reason, error)
        stop_reason = _reason_dict(reason) if error is None else None
        # The run's last epoch goes in with its final status: readers never see one without
        # the other, and the event writer leaves a finished run's `latest` alone.
        epoch = live.stats.last_epoch
        last = {"latest": summary(epoch)} if epoch is not None else {}
        with self._lock:
            self._live.pop(run_id, None)
            if self.store.transition(
                run_id,
                from_=[RunStatus.RUNNING],
                to=status,
                held_by=self.owner,
                stop_reason=stop_reason,
                error=error,
                **last,
            ):
                self._publish_status(run_id, status.value, stop_reason, error)
                return
            # Another process changed the row meanwhile (it interrupted, resumed or deleted
            # the run): its write stands. Followers get the stored status, numbered after what
            # that process saved (ours, if the row is gone).
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

    def _finish_queued(self, run_id: str, status: RunStatus, message: str) -> None:
        reason: dict[str, Any] = {
            "source": "user" if status is RunStatus.STOPPED else "shutdown",
            "message": message,
            "epoch": None,
            "iter": None,
            "details": {},
        }
        self._queued.discard(run_id)
        if self.store.transition(
            run_id, from_=[RunStatus.QUEUED], to=status, held_by=self.owner, stop_reason=reason
        ):
            self._publish_status(run_id, status.value, reason)

    # --- checkpoints ------------------------------------------------------------------------

    def _latest_checkpoint(self, run_id: str) -> Path | None:
        """The newest checkpoint a callback wrote in the run's directory (saved at epoch ends)."""
        run_dir = self.settings.run_dir(run_id)
        files = (
            sorted(run_dir.glob("*.pt"), key=lambda p: p.stat().st_mtime)
            if run_dir.is_dir()
            else []
        )
        return files[-1] if files else None

    # --- messages ---------------------------------------------------------------------------

    def _publish_status(
        self,
        run_id: str,
        status: str,
        stop_reason: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        message: dict[str, Any] = {"type": "status", "status": status}
        if stop_reason is not None:
            message["stop_reason"] = stop_reason
        if error is not None:
            message["error"] = error
        self.hub.publish(run_id, message)

    def _publish_callback(self, run_id: str, action: str, cb: CallbackRow) -> None:
        message = {"type": "callback", "action": action, "id": cb.id, "name": cb.name}
        self.hub.publish(run_id, message | {"params": cb.params})


def _final_status(reason: StopReason | None, error: str | None) -> RunStatus:
    if error is not None:
        return RunStatus.FAILED
    if reason is None:
        return RunStatus.COMPLETED
    if reason.source == "user":
        return RunStatus.STOPPED
    if reason.source == "shutdown":
        return RunStatus.INTERRUPTED
    return RunStatus.EARLY_STOPPED


def _reason_dict(reason: StopReason | None) -> dict[str, Any] | None:
    if reason is None:
        return None
    plain = asdict(reason)
    plain["details"] = {k: _json_value(v) for k, v in reason.details.items()}
    return plain


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if number == number and abs(number) != float("inf") else None


def _elsewhere(row: RunRow) -> str:
    if row.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value):
        return f" (it belongs to another fitboard process, {row.owner or 'unknown'})"
    return ""


def _new_id(nbytes: int) -> str:
    return secrets.token_hex(nbytes)

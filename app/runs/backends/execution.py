"""RunExecution: one run's Runner in the process that trains it, built from its Launch.

Any backend that trains in a Python process it controls (a worker thread here, a Ray actor)
runs a run through this class, so a run is built the same way wherever it executes.
Commands may arrive before the Runner exists (the run is starting): they wait and are
applied as soon as it does, still before the first batch.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path

from app.catalog import CallbackCatalog, CallbackContext, RecipeRegistry
from app.live.messages import stop_reason_dict
from app.live.stats_callback import Publish, WebSocketStatsCallback
from app.runs.backends.base import (
    Attach,
    AttachedCallback,
    Command,
    CommandRefused,
    Detach,
    Launch,
    RunOutcome,
    SetHyper,
    Stop,
)
from trainer import AvgStatsCallback, Callback, Runner

__all__ = ["RunExecution"]

log = logging.getLogger(__name__)


class RunExecution:
    """Builds a run's Runner from a Launch, fits it, and applies commands to it."""

    def __init__(self, recipes: RecipeRegistry, callbacks: CallbackCatalog, publish: Publish):
        self.recipes, self.catalog = recipes, callbacks
        self.stats = WebSocketStatsCallback(publish)
        self._lock = threading.Lock()  # orders commands against the Runner coming to exist
        self._runner: Runner | None = None
        self._waiting: list[Command] = []
        self._callbacks: dict[str, Callback] = {}
        self._run_dir: Path | None = None

    def control(self, command: Command) -> None:
        """Apply `command` at the run's next batch boundary (raises CommandRefused)."""
        with self._lock:
            if self._runner is None:
                self._waiting.append(command)
                return
            self._apply(self._runner, command)

    def execute(self, launch: Launch) -> RunOutcome:
        """Build the run and fit it to the end; never raises (the outcome says how it went)."""
        try:
            runner = self._build(launch)
        except Exception as exc:
            return RunOutcome(error=f"cannot start: {type(exc).__name__}: {exc}")
        try:
            learn = self.recipes.build(launch.recipe, launch.params)
            runner.fit(launch.params.epochs, learn, resume_from=launch.resume_from)
        except BaseException as exc:  # SystemExit in a recipe must not leave a zombie run
            log.warning("run %s failed", launch.run_id, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            return RunOutcome(error=error, last_epoch=self.stats.last_epoch)
        reason = runner.stop_reason
        if reason is None:
            return RunOutcome(last_epoch=self.stats.last_epoch)
        plain = stop_reason_dict(
            reason.source, reason.message, reason.epoch, reason.iter, reason.details
        )
        return RunOutcome(stop_reason=plain, last_epoch=self.stats.last_epoch)

    def _build(self, launch: Launch) -> Runner:
        metrics = list(self.recipes.get(launch.recipe).metrics)
        self._run_dir = launch.run_dir
        for attached in launch.callbacks:
            self._callbacks[attached.id] = self._build_callback(attached)
        runner = Runner(
            cbs=[self.stats, *self._callbacks.values()],
            cb_funcs=[partial(AvgStatsCallback, metrics, verbose=False)],
        )
        with self._lock:
            for command in self._waiting:
                self._apply(runner, command)
            self._waiting.clear()
            self._runner = runner
        return runner

    def _build_callback(self, attached: AttachedCallback) -> Callback:
        assert self._run_dir is not None
        context = CallbackContext(run_dir=self._run_dir)
        return self.catalog.build(attached.name, attached.params, context)

    def _apply(self, runner: Runner, command: Command) -> None:
        match command:
            case Stop(source=source, message=message):
                runner.request_stop(message, source=source.value)
            case Attach(callback=attached):
                try:
                    callback = self._build_callback(attached)
                except Exception as exc:  # valid parameters the callback still refuses
                    raise CommandRefused(f"{type(exc).__name__}: {exc}") from exc
                runner.add_cbs([callback])
                self._callbacks[attached.id] = callback
            case Detach(callback_id=callback_id):
                if callback_id in self._callbacks:
                    runner.remove_cbs([self._callbacks.pop(callback_id)])
            case SetHyper(name=name, value=value):
                runner.set_hyper(name, value)

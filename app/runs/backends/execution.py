"""RunExecution: one run's Runner in the process that trains it, built from its Launch.

Any backend that trains in a Python process it controls (a worker thread here, a Ray actor)
runs a run through this class, so a run is built the same way wherever it executes.
Commands may arrive before the Runner exists (the run is starting): they wait and are
applied as soon as it does, still before the first batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from app.catalog import CallbackCatalog, CallbackContext, RecipeRegistry
from app.live.messages import evaluation_message, fork_message, hyper_message, stop_reason_dict
from app.live.stats_callback import Publish, WebSocketStatsCallback
from app.live.system_stats import SystemStatsCallback
from app.runs.backends.base import (
    Attach,
    AttachedCallback,
    Command,
    CommandRefused,
    Detach,
    Evaluate,
    Launch,
    Pause,
    Resume,
    RunOutcome,
    SetHyper,
    Snapshot,
    Stop,
)
from trainer import AvgStats, AvgStatsCallback, Callback, Runner
from trainer.reporting.boundary import AtNextBoundary, HyperEdit

__all__ = ["RunExecution"]

log = logging.getLogger(__name__)


# Told on the training thread when the loop starts (True) or stops (False) holding, with
# the epoch and the training batches done.
OnHold = Callable[[bool, int, int], None]


class _HoldReporter(Callback):
    """Tells whoever steers the run that a pause took (or stopped taking) effect."""

    def __init__(self, on_hold: OnHold) -> None:
        self.on_hold = on_hold

    def begin_pause(self) -> None:
        self.on_hold(True, self.run.epoch, self.run.n_iter)

    def after_pause(self) -> None:
        if self.run.stop:  # stopped while held: the fit ends here, it never runs again
            return
        self.on_hold(False, self.run.epoch, self.run.n_iter)


class _Evaluation(AtNextBoundary):
    """Runs the model over the validation set (eval mode, no gradients, no random draw)
    and publishes the AvgStats in an `evaluation` message."""

    def __init__(self, metrics: list[Any], publish: Publish) -> None:
        super().__init__(publish)
        self.metrics = metrics

    def act(self) -> None:
        run = self.run
        model, stats = run.model, AvgStats(self.metrics, in_train=False)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for xb, yb in run.data.valid_dl:  # unshuffled: the training order is untouched
                    pred = model(xb)
                    batch = SimpleNamespace(xb=xb, yb=yb, pred=pred, loss=run.loss_func(pred, yb))
                    stats.accumulate(batch)
        finally:
            model.train(was_training)
        self.publish(evaluation_message(run.epoch, run.n_iter, stats.as_dict()))


class _ForkHypers(Callback):
    """A fork's hyperparameters, set right before its first training batch: after its
    snapshot's optimizer state (which holds the parent's values) has loaded."""

    def __init__(self, values: dict[str, float], publish: Publish) -> None:
        self.values, self.publish = values, publish

    def begin_batch(self) -> None:
        run = self.run
        if not run.in_train:
            return
        applied = {k: v for k, v in self.values.items() if k in run.opt.param_groups[0]}
        for group in run.opt.param_groups:
            group.update(applied)
        missing = sorted(set(self.values) - set(applied))
        self.publish(hyper_message(applied, missing, run.epoch, run.n_iter))
        run.remove_cbs([self])


class RunExecution:
    """Builds a run's Runner from a Launch, fits it, and applies commands to it."""

    def __init__(
        self,
        recipes: RecipeRegistry,
        callbacks: CallbackCatalog,
        publish: Publish,
        on_hold: OnHold,
    ) -> None:
        self.recipes, self.catalog = recipes, callbacks
        self.stats = WebSocketStatsCallback(publish)
        self.system = SystemStatsCallback(publish)  # CPU % and memory, once a second
        self.hold_reporter = _HoldReporter(on_hold)
        self._lock = threading.Lock()  # orders commands against the Runner coming to exist
        self._runner: Runner | None = None
        self._waiting: list[Command] = []
        self._callbacks: dict[str, Callback] = {}
        self._run_dir: Path | None = None
        self._run_id = ""
        self._metrics: list[Any] = []

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
        metrics = self._metrics = list(self.recipes.get(launch.recipe).metrics)
        self._run_dir, self._run_id = launch.run_dir, launch.run_id
        for attached in launch.callbacks:
            self._callbacks[attached.id] = self._build_callback(attached)
        extra = [_ForkHypers(launch.hypers, self.stats.publish)] if launch.hypers else []
        runner = Runner(
            cbs=[self.stats, self.system, self.hold_reporter, *self._callbacks.values(), *extra],
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
        context = CallbackContext(self._run_dir, self.stats.publish, callback_id=attached.id)
        return self.catalog.build(attached.name, attached.params, context)

    def _apply(self, runner: Runner, command: Command) -> None:
        match command:
            case Stop(source=source, message=message, details=details):
                runner.request_stop(message, source=source.value, **(details or {}))
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
            case SetHyper(values=values):
                runner.add_cbs([HyperEdit(values, self.stats.publish)])
            case Evaluate():
                runner.add_cbs([_Evaluation(self._metrics, self.stats.publish)])
            case Pause():
                runner.pause()
            case Resume():
                runner.resume()
            case Snapshot(path=path, fork_id=fork_id):
                future = runner.snapshot(path)
                future.add_done_callback(partial(self._snapshot_taken, fork_id))

    def _snapshot_taken(self, fork_id: str, future: Future[dict[str, int]]) -> None:
        # On the training thread, right after the snapshot was written (or failed).
        error = future.exception()
        point = None if error is not None else future.result()
        reason = None if error is None else f"{type(error).__name__}: {error}"
        self.stats.publish(fork_message(self._run_id, fork_id, point, reason))

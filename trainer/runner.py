"""`Runner`: the notebook's training loop, made thread-safe and cheap to dispatch."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import torch

from .callback import TrainEvalCallback
from .checkpoint import (
    load_checkpoint,
    restore_checkpoint,
    restore_epoch_start,
    restore_position,
    rng_state,
    save_snapshot,
)
from .events import (
    CANCEL_EVENTS,
    EVENTS,
    PAUSE_EVENTS,
    CallbackError,
    CancelBatchException,
    CancelEpochException,
    CancelException,
    CancelTrainException,
    StopReason,
)
from .learner import check_learner
from .utils import listify

__all__ = ["Runner"]

log = logging.getLogger(__name__)

_ALL_EVENTS = EVENTS + CANCEL_EVENTS + PAUSE_EVENTS
_Handlers = dict[str, tuple[Callable[[], Any], ...]]


class _StopFit(Exception):
    """Unwinds the loop when a stop request is honoured at a batch boundary."""


def _handles(cb: Any, event: str) -> bool:
    """Whether `cb` defines a handler for `event` (on its class, or set on the instance)."""
    own = getattr(cb, "__dict__", {})
    if event in own:
        return callable(own[event])
    # Look on the class: the instance would fall through to the runner.
    return callable(getattr(type(cb), event, None))


def _resolve_handlers(cbs: Iterable[Any]) -> _Handlers:
    """Bound handlers per event, in callback order: built when callbacks change, not per event."""
    cbs = tuple(cbs)
    return {ev: tuple(getattr(cb, ev) for cb in cbs if _handles(cb, ev)) for ev in _ALL_EVENTS}


def _callback_name(handler: Any) -> str:
    owner = getattr(handler, "__self__", handler)
    return str(getattr(owner, "name", type(owner).__name__))


class Runner:
    """Runs `fit` on a `Learner`, calling each callback's handlers at every event.

    `cbs` are callback instances; each of `cb_funcs` is called with no arguments and the
    callback it returns is also set as an attribute named `cb.name` (`run.avg_stats`).
    `TrainEvalCallback` is always present. `stop`, `request_stop`, `add_cbs`, `remove_cbs`
    and `set_hyper` may be called from any thread: they take effect at the next batch
    boundary, in training and in validation.
    """

    def __init__(self, cbs: Any = None, cb_funcs: Any = None) -> None:
        self._lock = threading.Lock()
        self._pending_cbs: list[tuple[bool, list[Any]]] = []
        self._pending_hypers: dict[str, float] = {}
        self._stop = False
        self._stop_request: tuple[str, str, dict[str, Any]] | None = None
        self._attention = False  # one flag for the hot loop: a stop, pause, callback or hyper
        self._pause_requested = False
        self._snapshots: list[tuple[Path, Future[dict[str, int]]]] = []  # asked, not taken
        self._resume_state: dict[str, Any] | None = None  # a snapshot this fit resumes from
        self._epoch_start_rng: dict[str, Any] | None = None
        self._wake = threading.Event()  # set by resume() and by a stop while paused
        self.paused = False  # True while the loop holds at a batch boundary
        self._in_fit = False
        self.stop_reason: StopReason | None = None
        self.learn: Any = None
        self.grad_scaler: Any = None  # set by MixedPrecision to scale the backward pass
        self.epochs = self.epoch = self.n_iter = self.iter = self.iters = 0
        self.n_epochs = 0.0
        self.in_train = False
        self.xb: Any = None
        self.yb: Any = None
        self.pred: Any = None
        self.loss: Any = None
        self.epoch_stats: dict[str, dict[str, float]] = {}
        # Every finished epoch's stats of this fit, `{"epoch", "train", "valid"}` (appended by
        # AvgStatsCallback, kept by checkpoints): a callback joining late reads what it missed.
        self.epoch_history: list[dict[str, Any]] = []
        cbs = list(listify(cbs))
        for cbf in listify(cb_funcs):
            cb = cbf()
            if hasattr(self, cb.name):
                raise ValueError(f"callback name {cb.name!r} clashes with a Runner attribute")
            setattr(self, cb.name, cb)
            cbs.append(cb)
        if not any(isinstance(cb, TrainEvalCallback) for cb in cbs):
            cbs.insert(0, TrainEvalCallback())
        self._set_cbs(cbs)

    # --- what callbacks read through `self.<attr>` --------------------------------------
    @property
    def cbs(self) -> tuple[Any, ...]:
        """The callbacks, sorted by `_order` (change them with `add_cbs`/`remove_cbs`)."""
        return self._cbs

    @property
    def opt(self) -> Any:
        return self.learn.opt

    @property
    def model(self) -> Any:
        return self.learn.model

    @property
    def loss_func(self) -> Any:
        return self.learn.loss_func

    @property
    def data(self) -> Any:
        return self.learn.data

    # --- dispatch ---------------------------------------------------------------------------
    def __call__(self, event: str) -> bool:
        """Run every handler of `event`; True when any returned a truthy value."""
        try:
            handlers = self._handlers[event]
        except KeyError:
            raise ValueError(
                f"unknown event {event!r}; events are {', '.join(_ALL_EVENTS)}"
            ) from None
        res = False
        handler = None
        try:
            for handler in handlers:
                if handler():
                    res = True
        except (CancelException, CallbackError):
            raise
        except Exception as exc:
            raise CallbackError(_callback_name(handler), event, exc) from exc
        return res

    def _set_cbs(self, cbs: Iterable[Any]) -> None:
        self._cbs = tuple(sorted(cbs, key=lambda cb: getattr(cb, "_order", 0)))
        self._handlers = _resolve_handlers(self._cbs)

    def _call_one(self, cb: Any, event: str) -> None:
        """Run one callback's own handler (a callback attached or detached mid-fit)."""
        if not _handles(cb, event):
            return
        try:
            getattr(cb, event)()
        except CancelException:
            raise
        except Exception as exc:
            raise CallbackError(_callback_name(cb), event, exc) from exc

    # --- the loop ---------------------------------------------------------------------------
    def one_batch(self, xb: Any, yb: Any) -> None:
        """Forward, loss, and in training backward and step; a truthy handler skips the rest."""
        self.xb, self.yb = xb, yb
        if self("begin_batch"):
            return
        self.pred = self.model(self.xb)
        if self("after_pred"):
            return
        self.loss = self.loss_func(self.pred, self.yb)
        if self("after_loss") or not self.in_train:
            return
        scaler = self.grad_scaler
        if scaler is None:
            self.loss.backward()
        else:
            scaler.scale(self.loss).backward()
        if self("after_backward"):
            return
        if scaler is None:
            self.opt.step()
        else:
            scaler.step(self.opt)
            scaler.update()
        if self("after_step"):
            return
        self.opt.zero_grad()

    def all_batches(self, dl: Iterable[Any]) -> None:
        """One pass over `dl`, checking for stop and callback changes before every batch."""
        self.iters = len(dl)  # type: ignore[arg-type]
        training = self.in_train
        resuming, skip = self._resume_state, 0
        if training and resuming is not None:  # redraw the snapshot's data order
            restore_epoch_start(self, resuming)
            skip = resuming["position"]["batch"]
            if skip >= self.iters:
                raise ValueError(
                    f"the snapshot is at batch {skip} of its epoch, but this epoch has "
                    f"{self.iters}: resume it with the data and batch size it was taken with"
                )
        if training:  # what a snapshot of this epoch needs to redraw its data order
            self._epoch_start_rng = rng_state(self)
        try:
            for i, (xb, yb) in enumerate(dl):
                if i < skip:  # done before the snapshot this fit resumes from
                    continue
                if i == skip and resuming is not None and training:
                    restore_position(self, resuming)
                    self._resume_state = resuming = None
                if self._attention:
                    self._at_boundary(i if training else None)
                self.iter = i
                try:
                    self.one_batch(xb, yb)
                except CancelBatchException:
                    self("after_cancel_batch")
                self("after_batch")
        except CancelEpochException:
            self("after_cancel_epoch")

    def fit(self, epochs: int, learn: Any, *, resume_from: str | Path | None = None) -> None:
        """Train `learn` for `epochs` epochs; with `resume_from`, continue from a checkpoint."""
        _check_epochs(epochs)
        check_learner(learn)
        state = load_checkpoint(resume_from) if resume_from is not None else None
        with self._lock:
            if self._in_fit:
                raise RuntimeError("this Runner is already running fit")
            self._in_fit = True
        self.epochs, self.learn = epochs, learn
        self.stop_reason, self.epoch_stats, self.epoch_history = None, {}, []
        self.loss = torch.tensor(0.0)
        try:
            self._fit_epochs(epochs, state)
        except _StopFit:
            pass
        except CancelTrainException:
            self("after_cancel_train")
            with self._lock:  # a stop asked for before the cancel gave the first reason
                asked = self._stop_request
            source, message, details = asked or (
                "callback",
                "a callback raised CancelTrainException",
                {},
            )
            self._note_stop(source, message, details)
        finally:
            self._end_fit()

    def _fit_epochs(self, epochs: int, state: dict[str, Any] | None) -> None:
        for cb in self._cbs:
            cb.set_runner(self)
        if self("begin_fit"):
            return
        start = restore_checkpoint(self, state) if state is not None else 0
        if state is not None and "position" in state:
            self._resume_state = state  # the rest at the snapshot's batch (all_batches)
        self.epoch = start
        for epoch in range(start, epochs):
            if self._attention:
                self._at_boundary()
            self.epoch = epoch
            if not self("begin_epoch"):
                self.all_batches(self.data.train_dl)
            if self._attention:
                self._at_boundary()
            with torch.no_grad():
                if not self("begin_validate"):
                    self.all_batches(self.data.valid_dl)
            if self._attention:
                self._at_boundary()
            if self("after_epoch"):
                if epoch < epochs - 1:
                    self._note_stop("callback", "a callback's after_epoch returned True")
                break
        if self._attention:  # a stop asked for in the last after_epoch still has its reason
            self._at_boundary()

    def _end_fit(self) -> None:
        self._resume_state = self._epoch_start_rng = None
        with self._lock:
            untaken, self._snapshots = self._snapshots, []
        for _, future in untaken:
            future.set_exception(RuntimeError("the fit ended before a training batch"))
        try:
            self._apply_pending(in_fit=True)
            self("after_fit")
        finally:
            with self._lock:
                self._in_fit = False
                self._stop, self._stop_request = False, None
                self._attention = bool(self._pending_cbs or self._pending_hypers)
            self.learn = None  # the notebook's: a Runner holds no Learner between fits
            # Nor its last batch: a validation batch is a view of the whole validation set,
            # and callbacks pointing back at the Runner make that a cycle, freed only when
            # the cyclic GC next runs (a server leaked the set per run until it did).
            self.xb = self.yb = self.pred = None
            self._apply_pending(in_fit=False)

    # --- control from any thread ------------------------------------------------------------
    @property
    def stop(self) -> bool:
        """True once a stop was requested; the loop ends the fit at the next batch boundary."""
        return self._stop

    @stop.setter
    def stop(self, value: bool) -> None:
        if value:
            self.request_stop("stop requested (run.stop = True)")
            return
        with self._lock:
            self._stop, self._stop_request = False, None

    def request_stop(self, message: str, source: str = "user", **details: Any) -> None:
        """Ask the loop to end the fit at the next batch boundary (a paused loop at once);
        the first reason given wins."""
        with self._lock:
            if self._stop_request is None:
                self._stop_request = (source, message, details)
            self._stop = True
            self._attention = True
            self._wake.set()

    def pause(self) -> None:
        """Hold the loop at the next batch boundary (`begin_pause`), keeping the model, the
        optimizer and the data position in memory, until `resume` or a stop."""
        with self._lock:
            self._pause_requested = True
            self._wake.clear()
            self._attention = True

    def resume(self) -> None:
        """Let a paused loop go on exactly where it held (`after_pause`)."""
        with self._lock:
            self._pause_requested = False
            self._wake.set()

    def snapshot(self, path: str | Path) -> Future[dict[str, int]]:
        """Write a snapshot of the fit (`trainer.checkpoint.snapshot_state`) to `path` before
        its next training batch (a paused loop: at once, if it holds before one; between
        fits: before the next fit's first).

        The future gets the snapshot's position, `{"epoch", "batch", "iter"}` (the epoch
        it is in, the batches of it done, the training batches done in all), or the error
        that kept it from being written. A fit resumed from the file continues exactly there.
        """
        future: Future[dict[str, int]] = Future()
        with self._lock:
            self._snapshots.append((Path(path), future))
            self._attention = True
            self._wake.set()  # a paused loop takes it where it holds
        return future

    def add_cbs(self, cbs: Any) -> None:
        """Add callbacks; during a fit they join at the next batch boundary (then `begin_fit`)."""
        cbs = listify(cbs)
        with self._lock:
            if self._in_fit:
                self._pending_cbs.append((True, cbs))
                self._attention = True
                return
        self._change_cbs(True, cbs, in_fit=False)

    def remove_cbs(self, cbs: Any) -> None:
        """Remove callbacks; mid-fit they leave at the next batch boundary (own `after_fit`)."""
        cbs = listify(cbs)
        with self._lock:
            known = list(self._cbs) + [c for add, lst in self._pending_cbs if add for c in lst]
            for cb in cbs:
                if isinstance(cb, TrainEvalCallback):
                    raise ValueError("TrainEvalCallback cannot be removed: the loop needs it")
                if not any(cb is k for k in known):
                    raise ValueError(f"callback {cb!r} is not attached to this Runner")
            if self._in_fit:
                self._pending_cbs.append((False, cbs))
                self._attention = True
                return
        self._change_cbs(False, cbs, in_fit=False)

    def set_hyper(self, name: str, value: float) -> None:
        """Set `name` (e.g. `lr`) in every optimizer param group at the next batch boundary."""
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise ValueError(f"hyperparameter {name!r} must be a finite number, got {value!r}")
        if name == "lr" and value < 0:
            raise ValueError(f"learning rate must be >= 0, got {value}")
        with self._lock:
            self._pending_hypers[name] = float(value)
            self._attention = True

    # --- at a batch boundary ---------------------------------------------------------------
    def _at_boundary(self, train_batch: int | None = None) -> None:
        """Apply what other threads asked for; `train_batch`: the training batch about to
        run (snapshots are taken only there), None at any other boundary."""
        with self._lock:
            # A snapshot asked for during validation waits for the next training batch.
            self._attention = self._stop or (bool(self._snapshots) and train_batch is None)
        self._apply_pending(in_fit=True)
        if train_batch is not None:
            self._take_snapshots(train_batch)
        if self._pause_requested and not self._stop:
            self._hold(train_batch)
        if self._stop:
            self._note_stop(*self._take_request())
            raise _StopFit

    def _hold(self, train_batch: int | None) -> None:
        """Wait at this boundary until resumed or stopped; changes sent meanwhile apply now,
        snapshots asked for meanwhile are taken now (if this is a training batch's)."""
        self.paused = True
        self("begin_pause")
        while True:
            self._wake.wait()
            if train_batch is not None:
                self._take_snapshots(train_batch)
            with self._lock:
                if self._stop or not self._pause_requested:
                    break
                self._wake.clear()
        self._apply_pending(in_fit=True)
        self.paused = False
        self("after_pause")

    def _take_snapshots(self, batch: int) -> None:
        with self._lock:
            asked, self._snapshots = self._snapshots, []
        for path, future in asked:
            if not future.set_running_or_notify_cancel():
                continue  # given up on by whoever asked
            assert self._epoch_start_rng is not None
            try:
                save_snapshot(self, path, batch, self._epoch_start_rng)
            except Exception as exc:  # a full disk must not end the fit it snapshots
                log.warning("snapshot to %s failed", path, exc_info=True)
                future.set_exception(exc)
                continue
            future.set_result({"epoch": int(self.epoch), "batch": batch, "iter": int(self.n_iter)})

    def _take_request(self) -> tuple[str, str, dict[str, Any]]:
        with self._lock:
            return self._stop_request or ("user", "stop requested", {})

    def _note_stop(self, source: str, message: str, details: dict[str, Any] | None = None) -> None:
        if self.stop_reason is None:
            self.stop_reason = StopReason(source, message, self.epoch, self.n_iter, details or {})

    def _apply_pending(self, *, in_fit: bool) -> None:
        with self._lock:
            changes, self._pending_cbs = self._pending_cbs, []
        for adding, cbs in changes:
            self._change_cbs(adding, cbs, in_fit=in_fit)
        # After the callbacks: one that joins now and calls set_hyper in its begin_fit has
        # its value applied at this same boundary, before the next batch.
        with self._lock:
            hypers, self._pending_hypers = self._pending_hypers, {}
        if hypers and self.learn is not None:
            for group in self.opt.param_groups:
                group.update(hypers)
        elif hypers:  # no optimizer yet: keep them for the next fit
            with self._lock:
                self._pending_hypers = {**hypers, **self._pending_hypers}
                self._attention = True

    def _change_cbs(self, adding: bool, cbs: list[Any], *, in_fit: bool) -> None:
        if adding:
            for cb in cbs:
                cb.set_runner(self)
            self._set_cbs([*self._cbs, *cbs])
            if in_fit:
                for cb in cbs:
                    self._call_one(cb, "begin_fit")
            return
        if in_fit:
            for cb in cbs:
                self._call_one(cb, "after_fit")
        self._set_cbs([c for c in self._cbs if not any(c is cb for cb in cbs)])

    def __repr__(self) -> str:
        return f"Runner(cbs={list(self._cbs)!r})"


def _check_epochs(epochs: Any) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")

"""Callbacks that end a fit: after n iterations, on a plateau, on NaN, or after a time limit.

Each asks through `run.request_stop(..., source=self.name)`, so `run.stop_reason` says who
stopped the run and why.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..callback import Callback
from ..events import CancelBatchException
from .monitor import epoch_metric, is_improvement, metric_in, resolve_mode

__all__ = ["EarlyStopping", "StopAfterIters", "TerminateOnNaN", "TimeLimit"]


class StopAfterIters(Callback):
    """Stop after `n` training batches (the notebook's TestCallback)."""

    _order = 1  # after TrainEvalCallback has counted the batch

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"StopAfterIters needs n >= 1, got {n}")
        self.n = n

    def after_batch(self) -> None:
        run = self.run
        if run.in_train and run.n_iter >= self.n:
            run.request_stop(f"reached {self.n} iterations", source=self.name, n_iter=run.n_iter)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    `mode` "auto" minimises metrics whose name holds "loss" and maximises the others.
    Attached to a fit under way, it first judges the epochs before it (`run.epoch_history`).
    Reads the epoch's stats from `AvgStatsCallback`, so it runs after it (`_order` 10).
    """

    _order = 10

    def __init__(
        self,
        monitor: str = "valid_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        if patience < 0 or min_delta < 0:
            raise ValueError(f"patience and min_delta must be >= 0, got {patience}, {min_delta}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = resolve_mode(monitor, mode)
        self.best: float | None = None
        self.wait = 0

    def begin_fit(self) -> None:
        self.best, self.wait = None, 0
        # Attached to a fit under way: judge the epochs it missed as if it had seen them, so
        # a best from before it joined counts (and a plateau that is already long stops now).
        last = None
        for stats in getattr(self.run, "epoch_history", ()):
            value = metric_in(stats, self.monitor)
            if value is not None:
                last = value
                self._judge(value)
        if last is not None and 0 < self.wait >= self.patience:
            self._stop(last)

    def after_epoch(self) -> None:
        value = epoch_metric(self.run, self.monitor)
        if self._judge(value) and self.wait >= self.patience:
            self._stop(value)

    def _judge(self, value: float) -> bool:
        """Count one epoch's `value`; whether it failed to improve."""
        if is_improvement(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return True

    def _stop(self, value: float) -> None:
        self.run.request_stop(
            f"{self.monitor} did not improve for {self.wait} "
            f"epoch{'' if self.wait == 1 else 's'}: "
            f"best {self.best:.6g}, last {value:.6g}",
            source=self.name,
            monitor=self.monitor,
            value=value,
            best=self.best,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]


class TerminateOnNaN(Callback):
    """Stop as soon as the loss is NaN or infinite, before the bad step changes the weights.

    Checking the value syncs with the device once per batch.
    """

    _order = 5
    name = "terminate_on_nan"  # camel2snake would say "terminate_on_na_n"

    def after_loss(self) -> None:
        run = self.run
        loss = float(run.loss.detach())
        if not math.isfinite(loss):
            run.request_stop(
                f"loss is {loss} at epoch {run.epoch}, batch {run.iter}",
                source=self.name,
                loss=loss,
            )
            raise CancelBatchException()


class TimeLimit(Callback):
    """Stop at the first batch boundary after `seconds` of wall-clock time since `begin_fit`."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"TimeLimit needs seconds > 0, got {seconds}")
        self.seconds = seconds
        self.start = time.monotonic()

    def begin_fit(self) -> None:
        self.start = time.monotonic()

    def after_batch(self) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed >= self.seconds:
            self.run.request_stop(
                f"time limit of {self.seconds:g} s reached", source=self.name, elapsed=elapsed
            )

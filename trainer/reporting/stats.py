"""WebSocketStatsCallback: turns a fit's stats into messages, off the hot path.

It only reads numbers the loop already has and hands plain dicts to a `publish` function that
never blocks (`EventHub.publish` in the server's process; a buffer where a run executes
elsewhere). Numbering, fan-out and saving happen on the service's side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from ..callback import Callback
from .downsample import Series, downsample
from .messages import (
    StopSource,
    batch_message,
    early_stop_message,
    epoch_message,
    finite,
    stop_reason_dict,
)

__all__ = ["Publish", "WebSocketStatsCallback"]

# Hands one message to whoever numbers and delivers it; returns it as published.
Publish = Callable[[dict[str, Any]], dict[str, Any]]


class WebSocketStatsCallback(Callback):
    """Publishes a run's epoch stats, throttled batch loss and early-stop events.

    Messages (see docs/api.md): `batch` {epoch, iter, loss, lr} at most once per
    `batch_interval` seconds of training; `epoch` {epoch, train, valid, elapsed, batches} with
    the runner's `epoch_stats` (AvgStatsCallback's means of the loss and metrics) and the
    epoch's training batches, at most `batch_points` of them (`app.live.downsample`); and
    `early_stop` {epoch, iter, reason, source, monitor, value} when a callback stopped the fit.

    Each training batch's loss is kept for the epoch's curve, so the batch charts get the
    whole curve without a message per batch: on an accelerator as a detached device tensor,
    read back once at the end of the epoch (no sync per batch); on the CPU, where reading it
    costs no sync, as a float (cheaper than a tensor object per batch).
    """

    _order = 100  # after the stats, schedulers and counters have done their part of the batch

    def __init__(
        self,
        publish: Publish,
        *,
        batch_interval: float = 0.25,
        batch_points: int = 100,
    ) -> None:
        if batch_points < 1:
            raise ValueError(f"batch_points must be at least 1, not {batch_points}")
        self.publish = publish
        self.batch_interval = batch_interval
        self.batch_points = batch_points
        self._started = 0.0
        self._paused_at = 0.0
        self._last_batch = -math.inf
        self.last_epoch: dict[str, Any] | None = None  # the last epoch message, as published
        self._reset_batches()

    def _reset_batches(self) -> None:
        # This epoch's training batches: losses as floats (CPU) or device tensors (0-d, then
        # stacked into 1-d chunks every _CHUNK batches so the list stays short), iters and
        # raw lrs.
        self._cpu_losses: list[float] = []
        self._losses: list[torch.Tensor] = []
        self._loss_chunks: list[torch.Tensor] = []
        self._iters: list[int] = []
        self._lrs: list[Any] = []

    def begin_fit(self) -> None:
        self._started = time.perf_counter()
        self._last_batch = -math.inf
        self._reset_batches()

    def begin_epoch(self) -> None:
        self._reset_batches()

    def begin_pause(self) -> None:
        self._paused_at = time.perf_counter()

    def after_pause(self) -> None:
        # Paused time is not training time: `elapsed` goes on from where it held.
        self._started += time.perf_counter() - self._paused_at

    def after_batch(self) -> None:
        run = self.run
        if not run.in_train:
            return
        loss = run.loss
        if loss is not None:
            if loss.is_cpu:
                self._cpu_losses.append(loss.item())
            else:
                losses = self._losses
                losses.append(loss.detach())
                if len(losses) >= _CHUNK:
                    self._loss_chunks.append(torch.stack(losses).float())
                    losses.clear()
            self._iters.append(run.n_iter)
            self._lrs.append(_raw_learning_rate(run.opt))
        now = time.perf_counter()
        if now - self._last_batch < self.batch_interval:
            return
        self._last_batch = now
        lr = _raw_learning_rate(run.opt)
        self.publish(batch_message(run.epoch, run.n_iter, run.loss.detach(), lr))

    def after_epoch(self) -> None:
        stats = self.run.epoch_stats
        message = epoch_message(
            self.run.epoch,
            stats.get("train", {}),
            stats.get("valid", {}),
            time.perf_counter() - self._started,
            self._epoch_batches(),
        )
        self.last_epoch = self.publish(message)

    def _epoch_batches(self) -> Series:
        """This epoch's training batches, read back from the device once and downsampled."""
        chunks = self._loss_chunks
        if self._losses:
            chunks = [*chunks, torch.stack(self._losses).float()]
        raw = self._cpu_losses  # an epoch's losses are all on one device: one list is empty
        iters, lrs = self._iters, self._lrs
        self._reset_batches()
        if chunks:  # one device-to-host copy for the whole epoch
            raw = [*raw, *(torch.cat(chunks) if len(chunks) > 1 else chunks[0]).tolist()]
        if not raw:
            return {"iter": [], "loss": [], "lr": []}
        values = [finite(v) for v in raw]  # NaN and inf become null
        return downsample(iters, values, [finite(lr) for lr in lrs], self.batch_points)

    def after_fit(self) -> None:
        reason = self.run.stop_reason
        if reason is None or StopSource.is_request(reason.source):
            return
        plain = stop_reason_dict(
            reason.source, reason.message, reason.epoch, reason.iter, reason.details
        )
        self.publish(early_stop_message(plain))


# Per-batch losses are stacked into one tensor every this many batches (no device sync).
_CHUNK = 1024


def _raw_learning_rate(opt: Any) -> Any:
    """The first param group's lr as the optimizer holds it (made plain at the epoch's end)."""
    groups = getattr(opt, "param_groups", None) or getattr(opt, "hypers", None)
    return groups[0].get("lr") if groups else None

"""WebSocketStatsCallback: turns a fit's stats into messages for the hub, off the hot path.

It only reads numbers the loop already has and hands plain dicts to `EventHub.publish`
(which never blocks); numbering, fan-out and saving happen on the service's side.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch

from trainer import Callback

if TYPE_CHECKING:
    from app.hub import EventHub

__all__ = ["USER_STOP_SOURCES", "WebSocketStatsCallback"]

# Stop requests that are not early stopping: the person (REST) or the server shutting down.
USER_STOP_SOURCES = frozenset({"user", "shutdown"})


class WebSocketStatsCallback(Callback):
    """Publishes a run's epoch stats, throttled batch loss and early-stop events.

    Messages (see docs/api.md): `batch` {epoch, iter, loss, lr} at most once per
    `batch_interval` seconds of training; `epoch` {epoch, train, valid, elapsed, batches} with
    the runner's `epoch_stats` (AvgStatsCallback's means of the loss and metrics) and the
    epoch's training batches, at most `batch_points` of them (see `_downsample`); and
    `early_stop` {epoch, iter, reason, source, monitor, value} when a callback stopped the fit.

    Each training batch's loss is kept as a detached device tensor (no sync) and read back
    once, at the end of the epoch, so the batch charts get the whole curve without a message
    per batch.
    """

    _order = 100  # after the stats, schedulers and counters have done their part of the batch

    def __init__(
        self,
        hub: EventHub,
        run_id: str,
        *,
        batch_interval: float = 0.25,
        batch_points: int = 100,
    ) -> None:
        if batch_points < 1:
            raise ValueError(f"batch_points must be at least 1, not {batch_points}")
        self.hub, self.run_id = hub, run_id
        self.batch_interval = batch_interval
        self.batch_points = batch_points
        self._started = 0.0
        self._last_batch = -math.inf
        self.last_epoch: dict[str, Any] | None = None  # the last epoch message, as published
        self._reset_batches()

    def _reset_batches(self) -> None:
        # This epoch's training batches: losses as device tensors (0-d, then stacked into
        # 1-d chunks every _CHUNK batches so the list stays short), iters and raw lrs.
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

    def after_batch(self) -> None:
        run = self.run
        if not run.in_train:
            return
        loss = run.loss
        if loss is not None:
            losses = self._losses
            losses.append(loss.detach())
            self._iters.append(run.n_iter)
            self._lrs.append(_raw_learning_rate(run.opt))
            if len(losses) >= _CHUNK:
                self._loss_chunks.append(torch.stack(losses).float())
                losses.clear()
        now = time.perf_counter()
        if now - self._last_batch < self.batch_interval:
            return
        self._last_batch = now
        message = {
            "type": "batch",
            "epoch": self.run.epoch,
            "iter": self.run.n_iter,
            "loss": float(self.run.loss.detach()),
            "lr": _learning_rate(self.run.opt),
        }
        self.hub.publish(self.run_id, message)

    def after_epoch(self) -> None:
        stats = self.run.epoch_stats
        message = {
            "type": "epoch",
            "epoch": self.run.epoch,
            "train": _plain_dict(stats.get("train", {})),
            "valid": _plain_dict(stats.get("valid", {})),
            "elapsed": time.perf_counter() - self._started,
            "batches": self._epoch_batches(),
        }
        self.last_epoch = self.hub.publish(self.run_id, message)

    def _epoch_batches(self) -> dict[str, list[Any]]:
        """This epoch's training batches, read back from the device once and downsampled."""
        chunks = self._loss_chunks
        if self._losses:
            chunks = [*chunks, torch.stack(self._losses).float()]
        iters, lrs = self._iters, self._lrs
        self._reset_batches()
        if not chunks:
            return {"iter": [], "loss": [], "lr": []}
        losses = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
        return _downsample(losses, iters, lrs, self.batch_points)

    def after_fit(self) -> None:
        reason = self.run.stop_reason
        if reason is None or reason.source in USER_STOP_SOURCES:
            return
        message = {
            "type": "early_stop",
            "epoch": reason.epoch,
            "iter": reason.iter,
            "reason": reason.message,
            "source": reason.source,
            "monitor": reason.details.get("monitor"),
            "value": _plain(reason.details.get("value")),
        }
        self.hub.publish(self.run_id, message)


# Per-batch losses are stacked into one tensor every this many batches (no device sync).
_CHUNK = 1024


def _downsample(
    losses: torch.Tensor, iters: list[int], lrs: list[Any], points: int
) -> dict[str, list[Any]]:
    """At most `points` points: with n batches, bucket b holds the batches i (from 0) with
    i * points // n == b (equal buckets, in order); its loss is the mean of theirs (NaN or inf
    in a bucket gives null), its iter and lr those of its last batch."""
    n = len(iters)
    if n <= points:
        values = losses.tolist()
        return {"iter": list(iters), "loss": [_plain(v) for v in values], "lr": _plain_list(lrs)}
    index = torch.arange(n, device=losses.device) * points // n
    sums = torch.zeros(points, dtype=torch.float64, device=losses.device)
    sums.index_add_(0, index, losses.to(torch.float64))
    means = (sums / torch.bincount(index, minlength=points)).tolist()
    last = [-(-(b + 1) * n // points) - 1 for b in range(points)]  # ceil((b+1)n/k) - 1
    return {
        "iter": [iters[i] for i in last],
        "loss": [_plain(v) for v in means],
        "lr": _plain_list([lrs[i] for i in last]),
    }


def _plain_list(values: list[Any]) -> list[Any]:
    return [_plain(v) for v in values]


def _raw_learning_rate(opt: Any) -> Any:
    """The first param group's lr as the optimizer holds it (made plain at the epoch's end)."""
    groups = getattr(opt, "param_groups", None) or getattr(opt, "hypers", None)
    return groups[0].get("lr") if groups else None


def _plain_dict(stats: dict[str, Any]) -> dict[str, float | None]:
    return {name: _plain(value) for name, value in stats.items()}


def _learning_rate(opt: Any) -> float | None:
    groups = getattr(opt, "param_groups", None) or getattr(opt, "hypers", None)
    if not groups:
        return None
    return _plain(groups[0].get("lr"))


def _plain(value: Any) -> Any:
    """A tensor or numpy scalar as a JSON-ready float (NaN and inf become None: JSON has none)."""
    if value is None or isinstance(value, str):
        return value
    number = float(value)
    return number if math.isfinite(number) else None

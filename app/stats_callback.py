"""WebSocketStatsCallback: turns a fit's stats into messages for the hub, off the hot path.

It only reads numbers the loop already has and hands plain dicts to `EventHub.publish`
(which never blocks); numbering, fan-out and saving happen on the service's side.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from trainer import Callback

if TYPE_CHECKING:
    from app.hub import EventHub

__all__ = ["USER_STOP_SOURCES", "WebSocketStatsCallback"]

# Stop requests that are not early stopping: the person (REST) or the server shutting down.
USER_STOP_SOURCES = frozenset({"user", "shutdown"})


class WebSocketStatsCallback(Callback):
    """Publishes a run's epoch stats, throttled batch loss and early-stop events.

    Messages (see docs/api.md): `batch` {epoch, iter, loss, lr} at most once per
    `batch_interval` seconds of training; `epoch` {epoch, train, valid, elapsed} with the
    runner's `epoch_stats` (AvgStatsCallback's means of the loss and metrics); and
    `early_stop` {epoch, iter, reason, source, monitor, value} when a callback stopped the fit.
    """

    _order = 100  # after the stats, schedulers and counters have done their part of the batch

    def __init__(
        self,
        hub: EventHub,
        run_id: str,
        *,
        batch_interval: float = 0.25,
    ) -> None:
        self.hub, self.run_id = hub, run_id
        self.batch_interval = batch_interval
        self._started = 0.0
        self._last_batch = -math.inf
        self.last_epoch: dict[str, Any] | None = None  # the last epoch message, as published

    def begin_fit(self) -> None:
        self._started = time.perf_counter()
        self._last_batch = -math.inf

    def after_batch(self) -> None:
        if not self.run.in_train:
            return
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
        }
        self.last_epoch = self.hub.publish(self.run_id, message)

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

"""`accuracy`, `AvgStats` and `AvgStatsCallback`: per-epoch means of the loss and metrics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from .callback import Callback
from .utils import listify

__all__ = ["AvgStats", "AvgStatsCallback", "accuracy", "metric_name"]


def accuracy(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """Fraction of rows of `out` whose arg-max is the target in `yb`."""
    return (torch.argmax(out, dim=1) == yb).float().mean()


def metric_name(metric: Callable[..., Any]) -> str:
    """The name a metric reports under: its function name (`accuracy`), also through partial."""
    while isinstance(metric, functools.partial):
        metric = metric.func
    return getattr(metric, "__name__", type(metric).__name__)


class AvgStats:
    """Sample-weighted sums of the loss and of each metric over one phase of an epoch.

    The sums stay tensors on the model's device, so accumulating never waits for the device;
    reading `all_stats`, `avg_stats` or `as_dict()` synchronises once and caches the result.
    """

    def __init__(self, metrics: Any, in_train: bool) -> None:
        self.metrics = listify(metrics)
        self.in_train = in_train
        self.names = ["loss", *(metric_name(m) for m in self.metrics)]
        self.reset()

    def reset(self) -> None:
        """Start a new epoch."""
        self.tot_loss: Any = 0.0
        self.count = 0
        self.tot_mets: list[Any] = [0.0] * len(self.metrics)
        self._synced: list[float] | None = None

    @property
    def all_stats(self) -> list[float]:
        """The summed loss and metrics (one device sync per epoch, then cached)."""
        if self._synced is None:
            if not self.count:
                return [0.0] * len(self.names)
            self._synced = torch.stack([self.tot_loss, *self.tot_mets]).tolist()
        return list(self._synced)

    @property
    def avg_stats(self) -> list[float]:
        """The means over the samples seen: `[loss, *metrics]`."""
        return [o / self.count for o in self.all_stats] if self.count else []

    def as_dict(self) -> dict[str, float]:
        """The means by name, e.g. `{"loss": 0.21, "accuracy": 0.94}` (empty before any batch)."""
        return dict(zip(self.names, self.avg_stats, strict=False))

    def __repr__(self) -> str:
        if not self.count:
            return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"

    def state_dict(self) -> dict[str, Any]:
        return {"tot_loss": self.tot_loss, "tot_mets": list(self.tot_mets), "count": self.count}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        def placed(value: Any) -> Any:
            return value.to(device) if isinstance(value, torch.Tensor) else value

        self.tot_loss = placed(state["tot_loss"])
        self.tot_mets = [placed(value) for value in state["tot_mets"]]
        self.count = int(state["count"])
        self._synced = None

    def accumulate(self, run: Any) -> None:
        """Add one batch's loss and metrics, weighted by its size, without a device sync."""
        bn = run.xb.shape[0]
        loss = run.loss.detach()
        self._synced = None
        if self.count == 0:  # the first batch allocates the float32 sums on the right device
            self.tot_loss = loss.float() * bn
            self.tot_mets = [self._as_tensor(m(run.pred, run.yb), loss) * bn for m in self.metrics]
        else:
            self.tot_loss.add_(loss, alpha=bn)
            for tot, m in zip(self.tot_mets, self.metrics, strict=True):
                tot.add_(m(run.pred, run.yb), alpha=bn)  # a tensor or a plain number
        self.count += bn

    @staticmethod
    def _as_tensor(value: Any, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(value, dtype=torch.float32, device=like.device).detach()


class AvgStatsCallback(Callback):
    """Tracks `AvgStats` for training and validation and prints them after each epoch.

    After each epoch `run.epoch_stats` holds `{"train": {...}, "valid": {...}}` (plain
    floats by metric name) for callbacks with a higher `_order` to read in `after_epoch`,
    and `run.epoch_history` gains it with its `epoch`.
    """

    def __init__(self, metrics: Any, *, verbose: bool = True) -> None:
        self.train_stats = AvgStats(metrics, True)
        self.valid_stats = AvgStats(metrics, False)
        self.verbose = verbose

    def begin_epoch(self) -> None:
        self.train_stats.reset()
        self.valid_stats.reset()

    def after_loss(self) -> None:
        run = self.run
        stats = self.train_stats if run.in_train else self.valid_stats
        with torch.no_grad():
            stats.accumulate(run)

    def state_dict(self) -> dict[str, Any]:
        """The sums so far: a snapshot taken mid-epoch resumes the epoch's averages, not
        restarts them (an epoch checkpoint's are reset by the next `begin_epoch` anyway)."""
        return {"train": self.train_stats.state_dict(), "valid": self.valid_stats.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = next(self.run.model.parameters(), torch.empty(0)).device
        self.train_stats.load_state_dict(state["train"], device)
        self.valid_stats.load_state_dict(state["valid"], device)

    def after_epoch(self) -> None:
        run = self.run
        run.epoch_stats = {"train": self.train_stats.as_dict(), "valid": self.valid_stats.as_dict()}
        history = getattr(run, "epoch_history", None)
        if history is not None:
            # The same dicts, not a copy: a callback that adjusts this epoch's stats in its
            # after_epoch adjusts the history too (the next epoch gets new dicts).
            history.append({"epoch": int(run.epoch), **run.epoch_stats})
        if self.verbose:
            for stats in (self.train_stats, self.valid_stats):
                if stats.count:
                    print(stats)

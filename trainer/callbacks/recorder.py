"""`Recorder`: per-batch loss and learning rate, and per-epoch stats, for plots and reports."""

from __future__ import annotations

from typing import Any

import torch

from ..callback import Callback

__all__ = ["Recorder"]


class Recorder(Callback):
    """Records each training batch's loss and learning rate, and each epoch's stats.

    Losses are kept as device tensors and turned into floats only when read, so recording
    never waits for the device. `epochs` mirrors `run.epoch_stats` after every epoch
    (`_order` 20: after `AvgStatsCallback`).
    """

    _order = 20

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self._losses: list[torch.Tensor] = []
        self.epochs: list[dict[str, Any]] = []

    def begin_fit(self) -> None:
        self.lrs, self._losses, self.epochs = [], [], []

    def after_batch(self) -> None:
        run = self.run
        if not run.in_train or run.loss is None:
            return
        self.lrs.append(run.opt.param_groups[-1]["lr"])
        self._losses.append(run.loss.detach())

    def after_epoch(self) -> None:
        self.epochs.append({"epoch": self.run.epoch, **self.run.epoch_stats})

    @property
    def losses(self) -> list[float]:
        """Training loss of every batch, as floats."""
        if not self._losses:
            return []
        return torch.stack([loss.float() for loss in self._losses]).tolist()

    def state_dict(self) -> dict[str, Any]:
        return {"lrs": list(self.lrs), "losses": self.losses, "epochs": list(self.epochs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lrs = list(state["lrs"])
        self._losses = [torch.tensor(v) for v in state["losses"]]
        self.epochs = list(state["epochs"])

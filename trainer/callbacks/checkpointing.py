"""`SaveModel`: checkpoint a run every epoch or whenever a monitored metric improves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..callback import Callback
from ..checkpoint import save_checkpoint
from .monitor import epoch_metric, is_improvement, resolve_mode

__all__ = ["SaveModel"]


class SaveModel(Callback):
    """Write a resumable checkpoint into `dirpath` after each epoch.

    `every="epoch"` rewrites `last.pt` every epoch; `every="best"` writes `best.pt` when
    `monitor` improves (`mode` as in `EarlyStopping`). Resume with
    `run.fit(epochs, learn, resume_from=path)`. Runs after the other epoch-end callbacks
    (`_order` 50) so their state is saved as of the end of the epoch.
    """

    _order = 50

    def __init__(
        self,
        dirpath: str | Path,
        every: str = "epoch",
        monitor: str = "valid_loss",
        mode: str = "auto",
    ) -> None:
        if every not in ("epoch", "best"):
            raise ValueError(f"every must be 'epoch' or 'best', got {every!r}")
        self.dirpath, self.every, self.monitor = Path(dirpath), every, monitor
        self.mode = resolve_mode(monitor, mode)
        self.best: float | None = None
        self.last_path: Path | None = None

    @property
    def path(self) -> Path:
        """Where this callback writes: `last.pt` or `best.pt` under `dirpath`."""
        return self.dirpath / ("last.pt" if self.every == "epoch" else "best.pt")

    def begin_fit(self) -> None:
        self.best = None

    def after_epoch(self) -> None:
        if self.every == "best":
            value = epoch_metric(self.run, self.monitor)
            if not is_improvement(value, self.best, self.mode):
                return
            self.best = value
        self.last_path = save_checkpoint(self.run, self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]

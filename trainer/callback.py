"""`Callback`, the base of everything that customises the loop, and `TrainEvalCallback`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .utils import camel2snake

if TYPE_CHECKING:
    from .runner import Runner

__all__ = ["Callback", "TrainEvalCallback"]


class Callback:
    """Base class of callbacks.

    A callback defines methods named after the events it handles (`begin_fit`,
    `after_batch`, ...; see `trainer.events.EVENTS`). Callbacks run sorted by `_order`.
    Reading an attribute the callback does not have falls through to the runner, so
    `self.n_iter` or `self.model` work inside a handler; writes stay on the callback, so
    change the loop through `self.run` (`self.run.stop = True`).

    A callback that has state worth checkpointing defines `state_dict()` and
    `load_state_dict(state)` returning and taking plain tensors, numbers and dicts.
    """

    _order = 0
    run: Runner

    def set_runner(self, run: Runner) -> None:
        """Attach this callback to `run`: the runner calls it before the callback's first event."""
        self.run = run

    def __getattr__(self, k: str) -> Any:
        # Only called for missing attributes; never fall through for `run` itself or dunders,
        # which copy/pickle probe on half-built objects.
        if k == "run" or k.startswith("__"):
            raise AttributeError(k)
        return getattr(self.run, k)

    @property
    def name(self) -> str:
        """Snake-case class name without a `Callback` suffix: `AvgStatsCallback` -> `avg_stats`."""
        name = re.sub(r"Callback$", "", self.__class__.__name__)
        return camel2snake(name or "callback")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class TrainEvalCallback(Callback):
    """Counts iterations and switches the model between training and evaluation mode.

    Always present in a `Runner`; it keeps `n_epochs` (float, fractional within an epoch),
    `n_iter` (training batches done) and `in_train` on the runner.
    """

    def begin_fit(self) -> None:
        run = self.run
        run.n_epochs = 0.0
        run.n_iter = 0

    def after_batch(self) -> None:
        run = self.run
        if not run.in_train:
            return
        run.n_epochs += 1.0 / run.iters
        run.n_iter += 1

    def begin_epoch(self) -> None:
        run = self.run
        run.n_epochs = float(run.epoch)
        run.model.train()
        run.in_train = True

    def begin_validate(self) -> None:
        run = self.run
        run.model.eval()
        run.in_train = False

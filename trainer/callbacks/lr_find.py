"""`LR_Find`: the course's learning-rate finder (notebook 05b), unchanged in use.

    run = Runner(cb_funcs=[LR_Find, Recorder])
    run.fit(2, learn)
    run.recorder.lrs, run.recorder.losses   # loss against an exponentially growing lr

The lr grows from `min_lr` to `max_lr` over `max_iter` training batches; the fit ends with
`CancelTrainException` after `max_iter` batches or once the loss exceeds ten times the best
loss so far (it has diverged).
"""

from __future__ import annotations

from ..callback import Callback
from ..events import CancelTrainException

__all__ = ["LR_Find"]


class LR_Find(Callback):
    """Sweep the learning rate exponentially, one value per training batch."""

    _order = 1
    name = "lr_find"  # camel2snake would say "lr__find"

    def __init__(self, max_iter: int = 100, min_lr: float = 1e-6, max_lr: float = 10) -> None:
        if max_iter < 1 or not 0 < min_lr < max_lr:
            raise ValueError("LR_Find needs max_iter >= 1 and 0 < min_lr < max_lr")
        self.max_iter, self.min_lr, self.max_lr = max_iter, min_lr, max_lr
        self.best_loss = float("inf")

    def begin_fit(self) -> None:
        self.best_loss = float("inf")

    def begin_batch(self) -> None:
        if not self.in_train:
            return
        pos = self.n_iter / self.max_iter
        lr = self.min_lr * (self.max_lr / self.min_lr) ** pos
        for group in self.opt.param_groups:
            group["lr"] = lr

    def after_step(self) -> None:
        loss = float(self.loss.detach())  # one sync a batch: a finder runs at most max_iter of them
        if self.n_iter >= self.max_iter or loss > self.best_loss * 10:
            raise CancelTrainException()
        self.best_loss = min(self.best_loss, loss)

"""`LR_Find`: the course's learning-rate finder (notebook 05b), unchanged in use.

    run = Runner(cb_funcs=[LR_Find, Recorder])
    run.fit(2, learn)
    run.recorder.lrs, run.recorder.losses   # loss against an exponentially growing lr

The lr grows from `min_lr` to `max_lr` over `max_iter` training batches; the fit ends with
`CancelTrainException` after `max_iter` batches or once the loss exceeds ten times the best
loss so far (it has diverged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..callback import Callback
from ..events import CancelTrainException

__all__ = ["LRSuggestion", "LR_Find", "suggest_lr"]


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


@dataclass(frozen=True)
class LRSuggestion:
    """A learning rate read off a finder's curve, and the two rules it was chosen from."""

    lr: float  # `steepest` when the curve has a descent, else `minimum / 10`
    rule: str  # "steepest" or "minimum/10"
    steepest: float | None  # where the smoothed loss falls fastest per decade of lr
    minimum: float  # where the smoothed loss is lowest


def suggest_lr(
    lrs: Sequence[float], losses: Sequence[float], window: int | None = None
) -> LRSuggestion:
    """The lr to train with, from a finder's (lr, loss) points, one per batch.

    The per-batch loss is too noisy to differentiate, so it is smoothed first: a running
    mean centred on each point (`window` points wide, by default a twentieth of the sweep,
    at least 3). Centred, unlike the exponential average of fastai's Recorder, it does not
    lag: an exponential average with beta 0.98 moves the steepest point half a decade
    towards larger lrs, i.e. towards divergence. Two classic rules then read the curve:
    the lr where the smoothed loss falls fastest against log(lr), *before* its minimum
    (fastai's `steep`: still learning quickly, far from diverging), and the lr of the
    minimum divided by 10 (the older rule: at the minimum the lr is about to diverge). The
    first is the suggestion; the second its fallback for a curve that never descends, and
    both are returned so a person can see the spread.
    """
    pairs = zip(lrs, losses, strict=True)
    points = [(lr, loss) for lr, loss in pairs if lr > 0 and math.isfinite(loss)]
    if not points:
        raise ValueError("suggest_lr needs at least one finite (lr, loss) point")
    half = max(3, window or len(points) // 20) // 2
    smoothed = _centred_mean([loss for _, loss in points], half)
    best = min(range(len(smoothed)), key=smoothed.__getitem__)
    minimum = points[best][0]
    logs = [math.log10(lr) for lr, _ in points]
    slopes = [  # (d smoothed loss / d log10 lr, at point i), up to the minimum
        ((smoothed[i + 1] - smoothed[i]) / (logs[i + 1] - logs[i]), i)
        for i in range(best)
        if logs[i + 1] > logs[i]
    ]
    descending = [(slope, i) for slope, i in slopes if slope < 0]
    if not descending:
        return LRSuggestion(minimum / 10, "minimum/10", None, minimum)
    _, steepest_at = min(descending)
    steepest = points[steepest_at][0]
    return LRSuggestion(steepest, "steepest", steepest, minimum)


def _centred_mean(values: list[float], half: int) -> list[float]:
    """Each value averaged with up to `half` neighbours on either side."""
    means = []
    for i in range(len(values)):
        around = values[max(0, i - half) : i + half + 1]
        means.append(sum(around) / len(around))
    return means

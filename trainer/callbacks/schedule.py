"""Hyperparameter schedules (the course's annealers) and `ParamScheduler`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch

from ..callback import Callback
from ..utils import listify

__all__ = [
    "ParamScheduler",
    "annealer",
    "combine_scheds",
    "cosine_sched",
    "one_cycle_sched",
    "sched_cos",
    "sched_exp",
    "sched_lin",
    "sched_no",
]

Schedule = Callable[[float], float]


def annealer(f: Callable[[float, float, float], float]) -> Callable[[float, float], Schedule]:
    """Turn `f(start, end, pos)` into `f(start, end)` returning a schedule of `pos` in [0, 1]."""

    def _inner(start: float, end: float) -> Schedule:
        return partial(f, start, end)

    _inner.__name__ = _inner.__qualname__ = f.__name__
    _inner.__doc__ = f.__doc__
    return _inner


@annealer
def sched_lin(start: float, end: float, pos: float) -> float:
    """Linear from `start` to `end`."""
    return start + pos * (end - start)


@annealer
def sched_cos(start: float, end: float, pos: float) -> float:
    """Half a cosine from `start` to `end`."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


@annealer
def sched_no(start: float, end: float, pos: float) -> float:
    """Constant `start`."""
    return start


@annealer
def sched_exp(start: float, end: float, pos: float) -> float:
    """Exponential from `start` to `end` (both > 0)."""
    return start * (end / start) ** pos


def combine_scheds(pcts: Sequence[float], scheds: Sequence[Schedule]) -> Schedule:
    """Run `scheds[i]` over the fraction `pcts[i]` of training (the fractions sum to 1)."""
    if len(pcts) != len(scheds) or not pcts:
        raise ValueError("combine_scheds needs as many fractions as schedules")
    if any(p < 0 for p in pcts) or not math.isclose(sum(pcts), 1.0):
        raise ValueError(f"fractions must be >= 0 and sum to 1, got {list(pcts)}")
    bounds = torch.cumsum(torch.tensor([0.0, *pcts]), 0).tolist()

    def _inner(pos: float) -> float:
        # the last phase whose start is <= pos (clamped so pos == 1 stays in the final phase)
        idx = max(i for i in range(len(scheds)) if bounds[i] <= pos or i == 0)
        width = bounds[idx + 1] - bounds[idx]
        actual = (pos - bounds[idx]) / width if width > 0 else 1.0
        return scheds[idx](min(max(actual, 0.0), 1.0))

    return _inner


def cosine_sched(lr_max: float, lr_min: float = 0.0) -> Schedule:
    """Cosine annealing from `lr_max` down to `lr_min` over the whole fit."""
    return sched_cos(lr_max, lr_min)


def one_cycle_sched(
    lr_max: float, pct_start: float = 0.3, div: float = 25.0, div_final: float = 1e4
) -> Schedule:
    """One cycle: cosine warm-up from `lr_max/div` to `lr_max`, then down to `lr_max/div_final`."""
    if not 0 < pct_start < 1:
        raise ValueError(f"pct_start must lie in (0, 1), got {pct_start}")
    return combine_scheds(
        [pct_start, 1 - pct_start],
        [sched_cos(lr_max / div, lr_max), sched_cos(lr_max, lr_max / div_final)],
    )


class ParamScheduler(Callback):
    """Before each training batch, set `pname` in the optimizer's param groups from a schedule.

    `sched_funcs` is one schedule for every group or one per group; each gets the fraction
    of training done (`n_epochs / epochs`).
    """

    _order = 1

    def __init__(self, pname: str, sched_funcs: Any) -> None:
        self.pname, self.sched_funcs = pname, listify(sched_funcs)
        if not self.sched_funcs:
            raise ValueError("ParamScheduler needs at least one schedule")

    def begin_fit(self) -> None:
        groups = self.run.opt.param_groups
        if len(self.sched_funcs) == 1:
            self.sched_funcs = self.sched_funcs * len(groups)
        if len(self.sched_funcs) != len(groups):
            raise ValueError(
                f"{len(self.sched_funcs)} schedules for {len(groups)} optimizer param groups"
            )

    def begin_batch(self) -> None:
        run = self.run
        if not run.in_train:
            return
        pos = min(run.n_epochs / run.epochs, 1.0)
        for group, f in zip(run.opt.param_groups, self.sched_funcs, strict=True):
            group[self.pname] = f(pos)

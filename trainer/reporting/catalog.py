"""The callbacks a dashboard may attach to a run trained here, by name.

The server validates a callback's parameters against its own catalog before it sends an
`attach` command; this side checks them again against the builder's own signature (known
names only, JSON scalars of the default's type) and builds a trainer callback. A name is
looked up in this table and nothing else: nothing the server sends is imported or run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..callback import Callback
from ..callbacks import (
    EarlyStopping,
    GradientClip,
    ParamScheduler,
    StopAfterIters,
    TerminateOnNaN,
    TimeLimit,
    cosine_sched,
    one_cycle_sched,
)

__all__ = ["ATTACHABLE", "CallbackRefused", "build_attachable"]


class CallbackRefused(ValueError):
    """A callback this process cannot build from the name and parameters given; says why."""


class SetHyperparameterOnce(Callback):
    """Sets one optimizer hyperparameter in every param group when it joins the fit."""

    def __init__(self, hyperparameter: str, value: float) -> None:
        self.hyperparameter, self.value = hyperparameter, value

    def begin_fit(self) -> None:
        self.run.set_hyper(self.hyperparameter, self.value)


def _early_stopping(
    monitor: str = "valid_loss", mode: str = "auto", patience: int = 3, min_delta: float = 0.0
) -> Callback:
    return EarlyStopping(monitor, patience, min_delta, mode)


def _lr_schedule(
    kind: str = "one_cycle", lr_max: float = 0.5, lr_min: float = 0.0, pct_start: float = 0.3
) -> Callback:
    if kind == "one_cycle":
        return ParamScheduler("lr", one_cycle_sched(lr_max, pct_start))
    if kind == "cosine":
        return ParamScheduler("lr", cosine_sched(lr_max, lr_min))
    raise ValueError(f"unknown schedule kind {kind!r}")


def _set_hyperparameter(hyperparameter: str = "lr", value: float = 0.1) -> Callback:
    return SetHyperparameterOnce(hyperparameter, value)


def _stop_after_iters(n: int = 100) -> Callback:
    return StopAfterIters(n)


def _time_limit(seconds: float = 600.0) -> Callback:
    return TimeLimit(seconds)


def _terminate_on_nan() -> Callback:
    return TerminateOnNaN()


def _gradient_clip(max_norm: float = 1.0) -> Callback:
    return GradientClip(max_norm)


# The server catalog's names (app/catalog/callbacks.py) that make sense in a process of the
# user's own: `checkpoint` writes into the server's run directory, so it is not here.
ATTACHABLE: dict[str, Callable[..., Callback]] = {
    "early_stopping": _early_stopping,
    "stop_after_iters": _stop_after_iters,
    "time_limit": _time_limit,
    "terminate_on_nan": _terminate_on_nan,
    "lr_schedule": _lr_schedule,
    "gradient_clip": _gradient_clip,
    "set_hyperparameter": _set_hyperparameter,
}


def build_attachable(name: str, params: Mapping[str, Any]) -> Callback:
    """The callback `name` built from `params`; CallbackRefused if the name is not in
    `ATTACHABLE` or a parameter is unknown or of the wrong type."""
    builder = ATTACHABLE.get(name)
    if builder is None:
        raise CallbackRefused(f"{name!r} cannot be attached here; known: {', '.join(ATTACHABLE)}")
    signature = inspect.signature(builder).parameters
    for key, value in params.items():
        if key not in signature:
            raise CallbackRefused(f"{name}: unknown parameter {key!r}")
        expected = type(signature[key].default)
        numeric = expected is float and isinstance(value, int) and not isinstance(value, bool)
        if not (type(value) is expected or numeric):
            raise CallbackRefused(
                f"{name}: {key} must be of type {expected.__name__}, not {value!r}"
            )
    try:
        return builder(**params)
    except (TypeError, ValueError) as exc:
        raise CallbackRefused(f"{name}: {exc}") from exc

"""A sweep's search space, and the one check of it against the recipe's own parameters.

Each searched parameter is a `float` or `int` range (low, high, log, step) or a `categorical`
list of choices. `check_space` refuses, naming the parameter: a parameter the recipe does not
have, bounds the recipe's params model refuses (its `ge`/`le` are the recipe's bounds), low
above high, no choices, and what Optuna's distributions refuse (log with a step). It returns
the Optuna distributions that `study.ask` samples from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.runs.errors import InvalidRequest

__all__ = [
    "MAX_CHOICES",
    "MAX_GRID_POINTS",
    "MAX_SEARCHED",
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "SearchedParam",
    "check_space",
    "grid_of",
]

MAX_SEARCHED = 20  # parameters one sweep may search
MAX_CHOICES = 100
MAX_GRID_POINTS = 10_000  # a grid larger than this is not a sweep anyone means to run
Choice = bool | int | float | Annotated[str, Field(max_length=200)]


class _Range(BaseModel):
    # Strict: `true` is not a number here (JSON Schema says so too).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.low > self.high:  # type: ignore[attr-defined]
            raise ValueError(f"low ({self.low}) must not be above high ({self.high})")  # type: ignore[attr-defined]
        return self


class FloatParam(_Range):
    """A float in [low, high], on a log scale or in steps of `step`."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0)


class IntParam(_Range):
    """An integer in [low, high], on a log scale or in steps of `step`."""

    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, ge=1)


class CategoricalParam(BaseModel):
    """One of `choices`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    type: Literal["categorical"]
    choices: list[Choice] = Field(min_length=1, max_length=MAX_CHOICES)


SearchedParam = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]
# The recipe's own check of one params object (raises pydantic's ValidationError).
ValidateParams = Callable[[Mapping[str, Any]], Any]


def check_space(
    space: Mapping[str, SearchedParam],
    fixed: Mapping[str, Any],
    fields: Mapping[str, Any],
    validate: ValidateParams,
) -> dict[str, BaseDistribution]:
    """Optuna's distributions for `space`, or InvalidRequest naming each bad parameter
    (`space.<name>`). `fields` are the recipe params model's fields; `validate` is the
    recipe's own check, run on the fixed params with each bound or choice in place."""
    errors: list[dict[str, Any]] = []
    distributions: dict[str, BaseDistribution] = {}
    for name, searched in space.items():
        try:
            distributions[name] = _distribution(name, searched, fixed, fields, validate)
        except InvalidRequest as exc:
            errors += exc.errors
    if errors:
        raise InvalidRequest(errors)
    return distributions


def _distribution(
    name: str,
    searched: SearchedParam,
    fixed: Mapping[str, Any],
    fields: Mapping[str, Any],
    validate: ValidateParams,
) -> BaseDistribution:
    at = ("space", name)
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise InvalidRequest.at(at, f"the recipe has no parameter {name!r} (it has {known})")
    if isinstance(searched, FloatParam) and fields[name].annotation is int:
        message = f"{name} is an integer: search it as an int range or categorical choices"
        raise InvalidRequest.at((*at, "type"), message)
    if isinstance(searched, CategoricalParam):
        for index, choice in enumerate(searched.choices):
            _within_recipe((*at, "choices", index), name, choice, fixed, validate)
        try:
            return CategoricalDistribution(searched.choices)
        except ValueError as exc:
            raise InvalidRequest.at((*at, "choices"), str(exc)) from None
    _within_recipe((*at, "low"), name, searched.low, fixed, validate)
    _within_recipe((*at, "high"), name, searched.high, fixed, validate)
    try:
        if isinstance(searched, FloatParam):
            low, high, step = searched.low, searched.high, searched.step
            return FloatDistribution(low, high, log=searched.log, step=step)
        return IntDistribution(searched.low, searched.high, log=searched.log, step=searched.step)
    except ValueError as exc:  # Optuna's own rules: no log scale with a step, ...
        raise InvalidRequest.at(at, str(exc)) from None


def _within_recipe(
    at: tuple[str | int, ...],
    name: str,
    value: Any,
    fixed: Mapping[str, Any],
    validate: ValidateParams,
) -> None:
    """The recipe's params model must take `value` for `name` (its bounds and its type)."""
    try:
        validate({**fixed, name: value})
    except ValidationError as exc:
        mine = [e for e in exc.errors() if e["loc"][:1] == (name,)]
        if mine:
            reason = "; ".join(e["msg"] for e in mine)
            message = f"the recipe refuses {name}={value!r}: {reason}"
            raise InvalidRequest.at(at, message) from None


def grid_of(distributions: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every point of a space, for the grid sampler: choices, or each step of a range.
    InvalidRequest for a float range without a step (it has no grid)."""
    grid: dict[str, list[Any]] = {}
    for name, distribution in distributions.items():
        if isinstance(distribution, CategoricalDistribution):
            grid[name] = list(distribution.choices)
        elif isinstance(distribution, IntDistribution):
            grid[name] = list(range(distribution.low, distribution.high + 1, distribution.step))
        elif isinstance(distribution, FloatDistribution) and distribution.step is not None:
            count = round((distribution.high - distribution.low) / distribution.step) + 1
            grid[name] = [distribution.low + i * distribution.step for i in range(count)]
        else:
            message = "the grid sampler needs a step for a float range"
            raise InvalidRequest.at(("space", name, "step"), message)
    points = 1
    for values in grid.values():
        points *= len(values)
    if points > MAX_GRID_POINTS:
        message = f"the grid has {points} points, more than {MAX_GRID_POINTS}: use larger steps"
        raise InvalidRequest.at(("space",), message)
    return grid

"""A sweep request (`POST /api/sweeps`) and its one check, into a `SweepPlan`.

The request names a recipe with its fixed params, the space to search, the callbacks of
every trial, the objective, and how Optuna searches (sampler, pruner). `SweepChecker.plan`
validates it all once, against the recipe's params model and the callback catalog (the
run domain's `RequestValidator`), and the workers there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from optuna.distributions import BaseDistribution
from pydantic import BaseModel, ConfigDict, Field

from app.catalog import ENTRY_NAME_MAX_LENGTH, ENTRY_NAME_PATTERN
from app.runs.errors import InvalidRequest
from app.runs.requests import MAX_CALLBACKS_PER_RUN, RequestValidator, RunRequest
from app.sweeps.space import MAX_SEARCHED, SearchedParam, check_space, grid_of

__all__ = ["MAX_TRIALS", "Objective", "SweepChecker", "SweepPlan", "SweepRequest", "TrialCallback"]

MAX_TRIALS = 1000  # trials one sweep may hold, added ones included
EntryName = Annotated[
    str, Field(min_length=1, max_length=ENTRY_NAME_MAX_LENGTH, pattern=ENTRY_NAME_PATTERN)
]
# `valid.accuracy`, `valid_loss`, `train.loss`: a phase and one of the recipe's statistics.
ObjectiveName = Annotated[str, Field(pattern=r"^(train|valid)[._][a-z][a-z0-9_]{0,63}$")]


class TrialCallback(BaseModel):
    """A catalog callback attached to every trial."""

    model_config = ConfigDict(extra="forbid")

    name: EntryName
    params: dict[str, Any] = Field(default_factory=dict)


class SweepRequest(BaseModel):
    """A search over some of a recipe's parameters, each trial an ordinary run."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # `"n_trials": true` is a mistake, not 1
        json_schema_extra={
            "examples": [
                {
                    "recipe": "mlp",
                    "params": {"epochs": 3},
                    "space": {
                        "lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True},
                        "bs": {"type": "categorical", "choices": [32, 64, 128]},
                    },
                    "objective": "valid.accuracy",
                    "direction": "max",
                    "n_trials": 20,
                }
            ]
        },
    )

    recipe: EntryName
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed for every trial.")
    space: dict[Annotated[str, Field(max_length=100)], SearchedParam] = Field(
        min_length=1, max_length=MAX_SEARCHED
    )
    callbacks: list[TrialCallback] = Field(default_factory=list, max_length=MAX_CALLBACKS_PER_RUN)
    objective: ObjectiveName = Field("valid.loss", description="An epoch statistic.")
    direction: Literal["min", "max"] = "min"
    n_trials: int = Field(10, ge=1, le=MAX_TRIALS)
    parallel: int = Field(1, ge=1, le=64, description="Trials at once (at most the workers).")
    sampler: Literal["tpe", "random", "grid", "cmaes"] = "tpe"
    pruner: Literal["median", "hyperband", "none"] = "median"
    startup_trials: int = Field(
        5, ge=0, le=MAX_TRIALS, description="Trials the median pruner lets finish first."
    )
    warmup_epochs: int = Field(0, ge=0, le=100, description="Epochs of a trial never pruned.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="The sampler's seed.")
    name: str | None = Field(None, min_length=1, max_length=200)


@dataclass(frozen=True)
class Objective:
    """The epoch statistic a sweep optimises: `phase` (train, valid), `stat`, `direction`."""

    phase: str
    stat: str
    direction: Literal["min", "max"]

    @classmethod
    def parse(cls, name: str, direction: Literal["min", "max"]) -> Objective:
        phase, stat = name[:5], name[6:]
        return cls(phase, stat, direction)

    @property
    def label(self) -> str:
        return f"{self.phase}.{self.stat}"

    def value(self, epoch_message: dict[str, Any]) -> float | None:
        """The objective in an epoch message (None when it is missing, NaN or infinite)."""
        value = (epoch_message.get(self.phase) or {}).get(self.stat)
        return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: the request, each trial's fixed run request, what Optuna samples."""

    request: SweepRequest
    base: RunRequest  # the fixed params and callbacks, already validated
    distributions: dict[str, BaseDistribution]
    grid: dict[str, list[Any]] | None  # the grid sampler's points
    objective: Objective


class SweepChecker:
    """Checks sweep requests against the recipes, the callbacks and the workers there are."""

    def __init__(self, requests: RequestValidator) -> None:
        self.requests = requests

    def plan(self, request: SweepRequest, workers: int | None = None) -> SweepPlan:
        """The plan of a sweep, or one InvalidRequest naming each bad field; `workers` (runs
        the backend trains at once) bounds `parallel` when given."""
        callbacks = [(cb.name, cb.params) for cb in request.callbacks]
        base = self.requests.run(request.recipe, request.params, callbacks, request.name)
        recipe = self.requests.recipes.get(request.recipe)
        fields = recipe.params_model.model_fields
        datasets_dir = self.requests.datasets_dir

        def validate(params: Any) -> Any:
            return self.requests.recipes.validate_params(
                request.recipe, params, datasets_dir=datasets_dir
            )

        distributions = check_space(request.space, request.params, fields, validate)
        objective = Objective.parse(request.objective, request.direction)
        monitor = f"{objective.phase}_{objective.stat}"
        if monitor not in recipe.monitors:
            known = ", ".join(m.replace("_", ".", 1) for m in recipe.monitors)
            message = f"{request.recipe} runs have no {objective.label} (they have {known})"
            raise InvalidRequest.at(("objective",), message)
        if workers is not None and request.parallel > workers:
            message = f"at most {workers} trials at once: the server trains {workers} runs at once"
            raise InvalidRequest.at(("parallel",), message)
        grid = grid_of(distributions) if request.sampler == "grid" else None
        if grid is not None and request.n_trials > (points := _points(grid)):
            message = f"the grid has {points} points: ask for at most {points} trials"
            raise InvalidRequest.at(("n_trials",), message)
        return SweepPlan(request, base, distributions, grid, objective)


def _points(grid: dict[str, list[Any]]) -> int:
    points = 1
    for values in grid.values():
        points *= len(values)
    return points

"""The one check of a run request and of a callback to attach, in the run domain's terms.

A request comes in as names and plain JSON; it leaves as typed, validated models
(`RunRequest`, `CallbackRequest`) that travel to wherever the run executes, never checked
again. Errors are `InvalidRequest`, each `loc` relative to the request itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.catalog import (
    HYPER_BOUNDS,
    CallbackCatalog,
    CallbackParams,
    RecipeRegistry,
    TrainParams,
    UnknownEntryError,
)
from app.runs.backends.base import Resources
from app.runs.errors import InvalidRequest, Loc

__all__ = [
    "MAX_CALLBACKS_PER_RUN",
    "CallbackRequest",
    "HyperValues",
    "RequestValidator",
    "RunRequest",
]

# Callbacks one run may hold at once, given at creation or attached live: each one costs
# every batch a dispatch, and the run's row and messages carry them all.
MAX_CALLBACKS_PER_RUN = 32


class HyperValues(BaseModel):
    """Optimizer hyperparameters to set on a live run, each within the catalog's bounds."""

    # Strict: a JSON `false` or `"0.1"` is not a number (the schema says so; lax mode took them).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    lr: float | None = Field(None, gt=0, le=HYPER_BOUNDS["lr"][1])
    momentum: float | None = Field(None, ge=0, le=HYPER_BOUNDS["momentum"][1])
    weight_decay: float | None = Field(None, ge=0, le=HYPER_BOUNDS["weight_decay"][1])

    def given(self) -> dict[str, float]:
        """The hyperparameters the request sets."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


@dataclass(frozen=True)
class CallbackRequest:
    """A catalog callback with its parameters, validated for the run it joins."""

    name: str
    params: CallbackParams

    def params_json(self) -> dict[str, Any]:
        """The parameters as the database and the messages hold them."""
        return self.params.model_dump(mode="json")


@dataclass(frozen=True)
class RunRequest:
    """A run to create: its recipe's validated parameters and callbacks."""

    recipe: str
    params: TrainParams
    callbacks: tuple[CallbackRequest, ...]
    name: str | None = None
    resources: Resources = field(default_factory=Resources)

    def params_json(self) -> dict[str, Any]:
        """The parameters, defaults filled in, as the database holds them."""
        return self.params.model_dump(mode="json")


class RequestValidator:
    """Checks requests against the registries; `datasets_dir` bounds local dataset paths.

    Resources a request leaves out take `default_resources`; `capacity` says, when asked,
    the most one run may have (the backend's largest node, which may change over time)."""

    def __init__(
        self,
        recipes: RecipeRegistry,
        callbacks: CallbackCatalog,
        datasets_dir: Path | None,
        *,
        default_resources: Resources | None = None,
        capacity: Callable[[], Resources] | None = None,
    ) -> None:
        self.recipes, self.callbacks, self.datasets_dir = recipes, callbacks, datasets_dir
        self.default_resources = default_resources or Resources()
        self.capacity = capacity

    def run(
        self,
        recipe: str,
        params: Mapping[str, Any],
        callbacks: Sequence[tuple[str, Mapping[str, Any]]] = (),
        name: str | None = None,
        resources: Mapping[str, float | None] | None = None,
    ) -> RunRequest:
        """A run request, or one InvalidRequest listing every bad field."""
        try:
            valid = self.recipes.validate_params(recipe, params, datasets_dir=self.datasets_dir)
        except UnknownEntryError as exc:
            raise InvalidRequest.at(("recipe",), str(exc)) from None
        except ValidationError as exc:
            raise InvalidRequest.from_validation(exc, ("params",)) from None
        if len(callbacks) > MAX_CALLBACKS_PER_RUN:
            message = f"at most {MAX_CALLBACKS_PER_RUN} callbacks per run"
            raise InvalidRequest.at(("callbacks",), message)
        errors: list[dict[str, Any]] = []
        checked = []
        for index, (cb_name, cb_params) in enumerate(callbacks):
            try:
                checked.append(self.callback(recipe, cb_name, cb_params, at=("callbacks", index)))
            except InvalidRequest as exc:
                errors += exc.errors
        try:
            wanted = self.resources(resources or {})
        except InvalidRequest as exc:
            errors += exc.errors
        if errors:
            raise InvalidRequest(errors)
        return RunRequest(recipe, valid, tuple(checked), name, wanted)

    def resources(self, asked: Mapping[str, float | None]) -> Resources:
        """The resources a run asks for, defaults filled in, that fit on the largest node
        (the API's schema already bounds each field)."""
        given = {k: v for k, v in asked.items() if v is not None}
        wanted = Resources(**{**self.default_resources.as_dict(), **given})
        if self.capacity is not None:
            problems = wanted.fits(self.capacity())
            if problems:
                raise InvalidRequest(
                    [
                        {"loc": ["resources", field], "msg": message, "type": "value_error"}
                        for field, message in problems.items()
                    ]
                )
        return wanted

    def callback(
        self, recipe: str, name: str, params: Mapping[str, Any], at: Loc = ()
    ) -> CallbackRequest:
        """A callback for a run of `recipe` (a `monitor` must be one of the recipe's
        statistics); `at` is where it sits in the request."""
        try:
            # An external run has no recipe here: any statistic its client reports will do.
            monitors = self.recipes.get(recipe).monitors if recipe in self.recipes else None
            valid = self.callbacks.validate_params(name, params, monitors=monitors)
        except UnknownEntryError as exc:
            raise InvalidRequest.at((*at, "name"), str(exc)) from None
        except ValidationError as exc:
            raise InvalidRequest.from_validation(exc, (*at, "params")) from None
        return CallbackRequest(name, valid)

    def hypers(self, values: HyperValues | Mapping[str, Any]) -> dict[str, float]:
        """Hyperparameters to set on a live run: at least one, each within its bounds."""
        try:
            model = (
                values if isinstance(values, HyperValues) else HyperValues.model_validate(values)
            )
            given = model.given()
        except ValidationError as exc:
            raise InvalidRequest.from_validation(exc, ()) from None
        if not given:
            raise InvalidRequest.at((), f"give at least one of {', '.join(HYPER_BOUNDS)}")
        return given

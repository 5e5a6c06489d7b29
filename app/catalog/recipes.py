"""Recipes: named, typed functions that build a `trainer.Learner` from validated parameters.

A recipe is registered once, by name, with the pydantic model of its parameters. Clients send
a recipe *name* and a JSON object of parameters; nothing they send is imported or run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trainer import Learner, accuracy, metric_name

from .modules import load_modules
from .registry import Registry

__all__ = ["Recipe", "RecipeRegistry", "TrainParams", "load_modules"]

# Bounds that keep one request from occupying the machine for days or exhausting its memory.
MAX_EPOCHS = 100
MAX_BATCH_SIZE = 4096


class TrainParams(BaseModel):
    """Parameters every recipe takes; subclass it to add a recipe's own (with bounds)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    epochs: int = Field(
        default=3, ge=1, le=MAX_EPOCHS, description="Passes over the training data."
    )
    lr: float = Field(default=0.1, gt=0, le=10, description="Learning rate.")
    bs: int = Field(default=64, ge=1, le=MAX_BATCH_SIZE, description="Training batch size.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seed for weights and shuffling.")


P = TypeVar("P", bound=TrainParams)
BuildFn = Callable[[Any], Learner]


@dataclass(frozen=True)
class Recipe:
    """A named way to build a Learner: `build(params_model(...)) -> Learner`.

    `metrics` are the AvgStats metrics the service records for it (accuracy for classifiers).
    """

    name: str
    description: str
    params_model: type[TrainParams]
    build: BuildFn
    metrics: Sequence[Callable[..., Any]] = field(default=(accuracy,))

    def describe(self) -> dict[str, Any]:
        """Name, description and the JSON Schema of the parameters (for GET /api/recipes)."""
        return {
            "name": self.name,
            "description": self.description,
            "params_schema": self.params_model.model_json_schema(),
            "metrics": [metric_name(metric) for metric in self.metrics],
        }

    @property
    def monitors(self) -> list[str]:
        """The epoch statistics a run of this recipe has: `train_loss`, `valid_accuracy`..."""
        names = ["loss", *(metric_name(metric) for metric in self.metrics)]
        return [f"{phase}_{name}" for phase in ("train", "valid") for name in names]


class RecipeRegistry(Registry[Recipe]):
    """Recipes by name. `app.catalog.recipes_registry` is the process-wide one that holds the
    built-ins and the recipes of `FITBOARD_RECIPE_MODULES`."""

    kind = "recipe"
    params_base = TrainParams

    def __init__(self, default: str | None = None) -> None:
        super().__init__()
        self.default = default

    def recipe(
        self,
        name: str,
        description: str,
        params_model: type[P] = TrainParams,  # type: ignore[assignment]
        *,
        metrics: Sequence[Callable[..., Any]] = (accuracy,),
    ) -> Callable[[Callable[[P], Learner]], Callable[[P], Learner]]:
        """Decorator: register the decorated `build(params) -> Learner` as recipe `name`."""

        def register(build: Callable[[P], Learner]) -> Callable[[P], Learner]:
            self.add(Recipe(name, description, params_model, build, tuple(metrics)))
            return build

        return register

    def validate_params(
        self, name: str, params: Mapping[str, Any] | None, *, datasets_dir: Path | None = None
    ) -> TrainParams:
        """Check a client's parameters for recipe `name` (pydantic ValidationError on bad ones;
        its `loc` is relative to the params object). `datasets_dir` is the only directory a
        local dataset path may point into (default: the settings' `datasets_dir`)."""
        return self._parse(name, params, {"datasets_dir": datasets_dir})  # type: ignore[no-any-return]

    def build(self, name: str, params: TrainParams) -> Learner:
        """Build the Learner of recipe `name` from already validated params."""
        return self._checked(name, params).build(params)

    def describe(self) -> list[dict[str, Any]]:
        """Every recipe's description and parameter schema, the default one first."""
        items = [item | {"default": item["name"] == self.default} for item in super().describe()]
        return sorted(items, key=lambda item: not item["default"])

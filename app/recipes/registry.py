"""Recipes: named, typed functions that build a `trainer.Learner` from validated parameters.

A recipe is registered once, by name, with the pydantic model of its parameters. Clients send
a recipe *name* and a JSON object of parameters; nothing they send is imported or run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trainer import Learner, accuracy, metric_name

__all__ = [
    "Recipe",
    "RecipeError",
    "RecipeRegistry",
    "TrainParams",
    "UnknownRecipeError",
    "load_recipe_modules",
]

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


class RecipeError(Exception):
    """A recipe cannot be registered or loaded; the message says which and why."""


class UnknownRecipeError(LookupError):
    """No recipe has the requested name; the message lists the ones that exist."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown recipe {name!r}; available: {', '.join(known) or 'none'}")
        self.name = name


class RecipeRegistry:
    """Recipes by name. `app.recipes.registry` is the process-wide one that holds the built-ins
    and the recipes of `FITBOARD_RECIPE_MODULES`."""

    def __init__(self, default: str | None = None) -> None:
        self._recipes: dict[str, Recipe] = {}
        self.default = default

    def add(self, recipe: Recipe) -> Recipe:
        """Register `recipe`; a second recipe with the same name is an error, not an override."""
        if not recipe.name.isidentifier():
            raise RecipeError(f"recipe name {recipe.name!r} must be a Python identifier")
        if not (
            isinstance(recipe.params_model, type) and issubclass(recipe.params_model, TrainParams)
        ):
            raise RecipeError(f"recipe {recipe.name!r}: params_model must subclass TrainParams")
        if recipe.name in self._recipes:
            raise RecipeError(f"recipe {recipe.name!r} is already registered")
        self._recipes[recipe.name] = recipe
        return recipe

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

    def get(self, name: str) -> Recipe:
        """The recipe called `name`, or UnknownRecipeError naming the ones that exist."""
        try:
            return self._recipes[name]
        except KeyError:
            raise UnknownRecipeError(name, list(self._recipes)) from None

    def validate_params(
        self, name: str, params: Mapping[str, Any] | None, *, datasets_dir: Path | None = None
    ) -> TrainParams:
        """Check a client's parameters for recipe `name` (pydantic ValidationError on bad ones;
        its `loc` is relative to the params object). `datasets_dir` is the only directory a
        local dataset path may point into (default: the settings' `datasets_dir`)."""
        model = self.get(name).params_model
        return model.model_validate(dict(params or {}), context={"datasets_dir": datasets_dir})

    def build(self, name: str, params: TrainParams) -> Learner:
        """Build the Learner of recipe `name` from already validated params."""
        recipe = self.get(name)
        if not isinstance(params, recipe.params_model):
            raise TypeError(f"recipe {name!r} needs {recipe.params_model.__name__}")
        return recipe.build(params)

    def describe(self) -> list[dict[str, Any]]:
        """Every recipe's description and parameter schema, the default one first."""
        items = [
            recipe.describe() | {"default": name == self.default}
            for name, recipe in self._recipes.items()
        ]
        return sorted(items, key=lambda item: not item["default"])

    def remove(self, name: str) -> Recipe:
        """Unregister recipe `name` and return it (for tests and for reloading a module)."""
        recipe = self.get(name)
        del self._recipes[name]
        return recipe

    def names(self) -> list[str]:
        """Registered recipe names, in registration order."""
        return list(self._recipes)

    def __contains__(self, name: object) -> bool:
        return name in self._recipes

    def __iter__(self) -> Iterator[Recipe]:
        return iter(list(self._recipes.values()))

    def __len__(self) -> int:
        return len(self._recipes)


def load_recipe_modules(module_paths: Sequence[str]) -> None:
    """Import each module by its dotted path so that its `@recipe` decorators register into
    `app.recipes.registry`. Only paths from the settings come here, never from a client."""
    for path in module_paths:
        try:
            importlib.import_module(path)
        except Exception as exc:  # an import can fail in any way: say which module did
            raise RecipeError(f"cannot load recipe module {path!r}: {exc}") from exc

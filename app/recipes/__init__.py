"""Recipes: named, typed functions that build a `trainer.Learner` from validated parameters.

`registry` holds the built-in recipes and those of `FITBOARD_RECIPE_MODULES`; a module adds
its own with the `recipe` decorator:

    @recipe("wide_mlp", "An MLP with a wide hidden layer", WideParams)
    def wide_mlp(params: WideParams) -> Learner: ...
"""

from .builtin import CNNParams, DataParams, MLPParams, register_builtins, resolve_dataset_path
from .registry import (
    Recipe,
    RecipeError,
    RecipeRegistry,
    TrainParams,
    UnknownRecipeError,
    load_recipe_modules,
)

__all__ = [
    "CNNParams",
    "DataParams",
    "MLPParams",
    "Recipe",
    "RecipeError",
    "RecipeRegistry",
    "TrainParams",
    "UnknownRecipeError",
    "load_recipe_modules",
    "recipe",
    "registry",
    "resolve_dataset_path",
]

registry = RecipeRegistry()
register_builtins(registry)
recipe = registry.recipe

"""What a run can be made of: recipes (how to build a Learner) and attachable callbacks.

Both are registries of named entries with a pydantic model of their parameters
(`registry.Registry`): a client names an entry and sends parameters, never code.

`recipe_registry` holds the built-in recipes and those of `FITBOARD_RECIPE_MODULES`;
`callback_catalog` the built-in callbacks and those of `FITBOARD_CALLBACK_MODULES`. A module
adds its own with the decorators::

    from app.catalog import DataParams, recipe

    @recipe("wide_mlp", "An MLP with a wide hidden layer", WideParams)
    def wide_mlp(params: WideParams) -> Learner: ...
"""

from .builtin_recipes import (
    CNNParams,
    DataParams,
    MLPParams,
    register_builtins,
    resolve_dataset_path,
)
from .callbacks import (
    HYPER_BOUNDS,
    CallbackCatalog,
    CallbackContext,
    CallbackParams,
    CallbackSpec,
    MonitorParams,
    callback,
    callback_catalog,
)
from .recipes import Recipe, RecipeRegistry, TrainParams, load_modules
from .registry import (
    ENTRY_NAME_MAX_LENGTH,
    ENTRY_NAME_PATTERN,
    Registry,
    RegistryError,
    UnknownEntryError,
)

__all__ = [
    "ENTRY_NAME_MAX_LENGTH",
    "ENTRY_NAME_PATTERN",
    "HYPER_BOUNDS",
    "CNNParams",
    "CallbackCatalog",
    "CallbackContext",
    "CallbackParams",
    "CallbackSpec",
    "DataParams",
    "MLPParams",
    "MonitorParams",
    "Recipe",
    "RecipeRegistry",
    "Registry",
    "RegistryError",
    "TrainParams",
    "UnknownEntryError",
    "callback",
    "callback_catalog",
    "load_modules",
    "recipe",
    "recipe_registry",
    "resolve_dataset_path",
]

recipe_registry = RecipeRegistry()
register_builtins(recipe_registry)
recipe = recipe_registry.recipe

"""What a run can be made of: recipes (how to build a Learner) and attachable callbacks.

Both are registries of named entries with a pydantic model of their parameters
(`registry.Registry`): a client names an entry and sends parameters, never code.

`recipe_registry` holds the built-in recipes and those of `FITBOARD_RECIPE_MODULES`;
`callback_catalog` the built-in callbacks and those of `FITBOARD_CALLBACK_MODULES`. A module
adds its own with the decorators::

    from app.catalog import DataParams, recipe

    @recipe("wide_mlp", "An MLP with a wide hidden layer", WideParams)
    def wide_mlp(params: WideParams) -> Learner: ...

    @callback("print_loss", "Print the loss after every epoch", PrintParams)
    def print_loss(params: PrintParams, ctx: CallbackContext) -> Callback: ...
"""

from collections.abc import Sequence

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
from .modules import load_modules
from .recipes import Recipe, RecipeRegistry, TrainParams
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
    "load_user_modules",
    "recipe",
    "recipe_registry",
    "resolve_dataset_path",
]

recipe_registry = RecipeRegistry()
register_builtins(recipe_registry)
recipe = recipe_registry.recipe


def load_user_modules(recipe_modules: Sequence[str], callback_modules: Sequence[str]) -> None:
    """Import the settings' modules of recipes and of callbacks; RegistryError (one line,
    naming the module) for one that fails to import or registers nothing of its kind."""
    load_modules(recipe_modules, recipe_registry)
    load_modules(callback_modules, callback_catalog)

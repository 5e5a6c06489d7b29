"""Loading the user's own modules of recipes and callbacks, named by the settings
(`FITBOARD_RECIPE_MODULES`, `FITBOARD_CALLBACK_MODULES`), never by a client."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from .registry import Registry, RegistryError

__all__ = ["load_modules"]


def load_modules(module_paths: Sequence[str], registry: Registry[Any] | None = None) -> None:
    """Import each module by its dotted path so that its decorators (`@recipe`, `@callback`)
    register their entries. The working directory is importable, as for `python -m`.

    With `registry`, a module that registers nothing in it is an error too: a misspelt
    decorator or the wrong setting would otherwise only show when a request names the entry.
    RegistryError's message is one line naming the module and the cause.
    """
    kind = registry.kind if registry is not None else "entry"
    _working_directory_importable()
    for path in module_paths:
        before = set(registry.names()) if registry is not None else set()
        try:
            module = importlib.import_module(path)
        except Exception as exc:  # an import can fail in any way: say which module did
            raise RegistryError(f"cannot load {kind} module {path!r}: {_one_line(exc)}") from exc
        if registry is not None and not _registered_by(module.__name__, registry, before):
            raise RegistryError(
                f"{kind} module {path!r} registers no {kind} (decorate a function with "
                f"@{kind} from app.catalog)"
            )


def _registered_by(module_name: str, registry: Registry[Any], before: set[str]) -> bool:
    """Whether importing the module added an entry, or (imported before, by an earlier call
    or another module) one of the registry's entries is built by its code."""
    if set(registry.names()) - before:
        return True
    return any(getattr(entry.build, "__module__", None) == module_name for entry in registry)


def _working_directory_importable() -> None:
    # The `fitboard` console script puts its own bin directory first on sys.path, not the
    # directory it was started in, where a user's `my_recipes.py` usually lies.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"

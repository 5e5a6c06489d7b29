"""Where a run executes: the `RunBackend` seam and its implementations.

`make_backend(settings)` picks one by `FITBOARD_BACKEND`; `threads` is the default, `ray`
(one actor per run) is imported only when selected.
"""

from __future__ import annotations

from app.catalog import CallbackCatalog, RecipeRegistry
from app.config import Settings

from .base import (
    Attach,
    AttachedCallback,
    Command,
    CommandRefused,
    Detach,
    Evaluate,
    Launch,
    Pause,
    Placement,
    Resources,
    Resume,
    RunBackend,
    RunOutcome,
    RunReporter,
    SetHyper,
    Snapshot,
    Stop,
)
from .threads import ThreadBackend

__all__ = [
    "Attach",
    "AttachedCallback",
    "Command",
    "CommandRefused",
    "Detach",
    "Evaluate",
    "Launch",
    "Pause",
    "Placement",
    "Resources",
    "Resume",
    "RunBackend",
    "RunOutcome",
    "RunReporter",
    "SetHyper",
    "Snapshot",
    "Stop",
    "ThreadBackend",
    "make_backend",
]


def make_backend(
    settings: Settings, recipes: RecipeRegistry, callbacks: CallbackCatalog
) -> RunBackend:
    """The backend `settings.backend` names, built from the settings."""
    if settings.backend == "threads":
        return ThreadBackend(
            recipes, callbacks, workers=settings.workers, torch_threads=settings.torch_threads
        )
    if settings.backend == "ray":
        from .ray_backend import RayBackend  # needs the `ray` extra

        return RayBackend(
            address=settings.ray_address,
            # The actor imports both kinds; the server has checked that each registers.
            recipe_modules=[*settings.recipe_modules, *settings.callback_modules],
            torch_threads=settings.torch_threads,
        )
    raise ValueError(f"FITBOARD_BACKEND: unknown backend {settings.backend!r}")

"""Forks: a new run that starts from another run's state, with some settings changed.

A fork starts from a snapshot of its parent (`trainer.Runner.snapshot`, taken before the
parent's next training batch while it runs) or, for a parent that no longer trains, from
its newest checkpoint. Either is copied into the fork's own directory as `fork.pt`, so
deleting the parent never breaks the fork. What may change is what the snapshot does not
fix: the number of epochs and the optimizer's hyperparameters. The model, the data and the
batch size stay the parent's, or the snapshot's weights and data position would be wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.catalog import HYPER_BOUNDS
from app.db.models import RunRow
from app.runs.errors import InvalidRequest
from app.runs.requests import RequestValidator, RunRequest
from trainer import load_checkpoint

__all__ = ["FORK_CHECKPOINT", "ForkWait", "fork_point_of", "plan_fork"]

FORK_CHECKPOINT = "fork.pt"  # in the fork's directory: what it starts (and restarts) from
CHANGEABLE = frozenset({"epochs", *HYPER_BOUNDS})


def plan_fork(
    requests: RequestValidator,
    parent: RunRow,
    params: Mapping[str, Any],
    callbacks: Sequence[tuple[str, Mapping[str, Any]]],
    name: str | None,
) -> tuple[RunRequest, dict[str, float]]:
    """The fork's run request (the parent's parameters with `params` over them), and the
    hyperparameters it changes; InvalidRequest at `params.<name>` for a parameter a fork
    cannot change."""
    # Unknown names are left to the recipe's own validation, which names them as such.
    fixed = sorted(
        key
        for key, value in params.items()
        if key not in CHANGEABLE and key in parent.params and parent.params[key] != value
    )
    if fixed:
        message = (
            "a fork keeps its parent's model, data and batch size: it can change epochs, "
            f"{', '.join(sorted(HYPER_BOUNDS))}"
        )
        raise InvalidRequest(
            [{"type": "value_error", "loc": ["params", key], "msg": message} for key in fixed]
        )
    merged = {**parent.params, **params}
    fork_name = name or f"{parent.name} fork"
    request = requests.run(parent.recipe, merged, callbacks, fork_name, parent.resources)
    checked = request.params.model_dump()
    hypers = {
        key: float(checked[key])
        for key in HYPER_BOUNDS
        if key in params and key in checked and checked[key] != parent.params.get(key)
    }
    return request, hypers


def fork_point_of(checkpoint: Path) -> dict[str, int]:
    """Where a fork from this checkpoint continues: {epoch, batch, iter}."""
    state = load_checkpoint(checkpoint)  # weights_only=True
    position = state.get("position")
    if position is not None:  # a snapshot: inside its epoch
        return {"epoch": position["epoch"], "batch": position["batch"], "iter": state["n_iter"]}
    return {"epoch": state["epoch"] + 1, "batch": 0, "iter": state["n_iter"]}


class ForkWait:
    """The answer to one snapshot asked of a live parent: its `fork` message, or None if the
    parent ended first."""

    def __init__(self, parent_id: str) -> None:
        self.parent_id = parent_id
        self.message: dict[str, Any] | None = None
        self._done = threading.Event()

    def answer(self, message: dict[str, Any] | None) -> None:
        if not self._done.is_set():
            self.message = message
            self._done.set()

    def wait(self, timeout: float) -> bool:
        """True once answered (False: `timeout` seconds passed first)."""
        return self._done.wait(timeout)

"""Forks: a new run from another run's state, at its next training batch or from its
checkpoint, with epochs, hyperparameters or callbacks changed; and a run's forks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.deps import ManagerDep, guard
from app.api.schemas import (
    GUARDED_RESPONSES,
    MAX_CALLBACKS,
    CallbackIn,
    JSONObject,
    PathId,
    RunOut,
    error_responses,
)
from app.api.storable import storable_text

__all__ = ["ForkCreate", "router"]

router = APIRouter(
    prefix="/api/runs", tags=["runs"], dependencies=[Depends(guard)], responses=GUARDED_RESPONSES
)


class ForkCreate(BaseModel):
    """What the fork changes; everything left out is the parent's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"params": {"lr": 0.1, "epochs": 10}}]},
    )

    params: JSONObject = Field(
        default_factory=dict,
        description="Parameters to change: `epochs` and optimizer hyperparameters (`lr`...).",
    )
    callbacks: list[CallbackIn] | None = Field(
        None, max_length=MAX_CALLBACKS, description="The fork's callbacks (default: the parent's)."
    )
    name: Annotated[str, AfterValidator(storable_text)] | None = Field(
        None, min_length=1, max_length=200
    )


@router.post(
    "/{run_id}/fork",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 413),
)
def fork_run(run_id: PathId, body: ForkCreate, manager: ManagerDep) -> RunOut:
    """Queue a new run that starts from this run's state: a running or paused run's
    snapshot before its next training batch (the parent goes on untouched), or a finished or
    interrupted run's newest checkpoint. It records `parent_id` and `fork_point`. 409 for a
    run that is not running and has no checkpoint (or is queued, or external); 422 at
    `params.<name>` for a parameter a fork cannot change (the model's, the data's)."""
    callbacks = None if body.callbacks is None else [(c.name, c.params) for c in body.callbacks]
    return RunOut.model_validate(manager.fork(run_id, body.params, callbacks, body.name))


@router.get("/{run_id}/forks", responses=error_responses(404))
def list_forks(run_id: PathId, manager: ManagerDep) -> list[RunOut]:
    """The runs forked from this one, oldest first."""
    return [RunOut.model_validate(row) for row in manager.forks_of(run_id)]

"""Sweeps: create an Optuna search over a recipe's params, list, read, stop, add trials."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SweepsDep, guard
from app.api.schemas import GUARDED_RESPONSES, MAX_OFFSET, ConflictOut, ErrorOut, PathId
from app.sweeps import MAX_TRIALS, SweepRequest

__all__ = ["router"]

router = APIRouter(
    prefix="/api/sweeps",
    tags=["sweeps"],
    dependencies=[Depends(guard)],
    responses=GUARDED_RESPONSES,
)
_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such sweep."}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ConflictOut, "description": "The sweep's state does not allow this."}
}
_WITH_BODY: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "The body is larger than FITBOARD_MAX_BODY_BYTES."}
}


class BestOut(BaseModel):
    """The best finished trial so far."""

    run_id: str | None
    number: int
    value: float | None
    params: dict[str, Any]


class TrialOut(BaseModel):
    """One trial: its run, Optuna's state, its objective value and intermediate values."""

    number: int
    run_id: str | None
    state: str = Field(description="Optuna's: running, complete, pruned, fail.")
    run_status: str | None
    value: float | None
    params: dict[str, Any]
    intermediate: list[tuple[int, float | None]] = Field(description="[epoch, value] pairs.")
    retry_of: int | None
    retried: bool
    started_at: datetime | None
    finished_at: datetime | None


class SweepOut(BaseModel):
    """A sweep: its request, where it is, its best trial and (one sweep) its trials."""

    id: str
    name: str
    status: str = Field(description="running, completed, stopped or failed.")
    stopping: bool
    n_trials: int
    study_name: str = Field(description="The Optuna study, in the storage at the database URL.")
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    recipe: str
    params: dict[str, Any]
    space: dict[str, Any]
    callbacks: list[dict[str, Any]]
    objective: str
    direction: str
    parallel: int
    sampler: str
    pruner: str
    startup_trials: int
    warmup_epochs: int
    seed: int | None
    counts: dict[str, int]
    best: BestOut | None
    trials: list[TrialOut] | None = None


class SweepPage(BaseModel):
    """One page of sweeps, newest first (without their trials)."""

    items: list[SweepOut]
    total: int
    limit: int
    offset: int


class SweepStop(BaseModel):
    """How to stop a sweep: let running trials finish, or stop them too."""

    model_config = ConfigDict(extra="forbid")

    trials: Literal["finish", "stop"] = "finish"


class TrialsAdd(BaseModel):
    """Trials to add to a sweep."""

    model_config = ConfigDict(extra="forbid", strict=True)

    n: int = Field(ge=1, le=MAX_TRIALS)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_WITH_BODY)
def create_sweep(body: SweepRequest, sweeps: SweepsDep, response: Response) -> SweepOut:
    """Start a sweep: its first trials are queued as runs at once."""
    sweep = sweeps.create(body)
    response.headers["Location"] = f"/api/sweeps/{sweep['id']}"
    return SweepOut.model_validate(sweep)


@router.get("")
def list_sweeps(
    sweeps: SweepsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SweepPage:
    """Sweeps, newest first, each with its best trial and trial counts."""
    items, total = sweeps.page(limit, offset)
    return SweepPage(
        items=[SweepOut.model_validate(item) for item in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{sweep_id}", responses=_MISSING)
def get_sweep(sweep_id: PathId, sweeps: SweepsDep) -> SweepOut:
    """One sweep with every trial."""
    return SweepOut.model_validate(sweeps.get(sweep_id))


@router.get("/{sweep_id}/importances", responses=_MISSING)
def get_importances(sweep_id: PathId, sweeps: SweepsDep) -> dict[str, float]:
    """Each searched parameter's importance for the objective (Optuna's fANOVA evaluator);
    empty until two trials have finished."""
    return sweeps.importances(sweep_id)


@router.post(
    "/{sweep_id}/stop",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_MISSING | _CONFLICT | _WITH_BODY,
)
def stop_sweep(sweep_id: PathId, sweeps: SweepsDep, body: SweepStop | None = None) -> SweepOut:
    """Start no more trials; running ones finish (`trials: finish`, the default) or are
    stopped (`stop`). The sweep is `stopped` once none runs."""
    return SweepOut.model_validate(sweeps.stop(sweep_id, (body or SweepStop()).trials))


@router.post(
    "/{sweep_id}/trials",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_MISSING | _CONFLICT | _WITH_BODY,
)
def add_trials(sweep_id: PathId, body: TrialsAdd, sweeps: SweepsDep) -> SweepOut:
    """Add `n` trials: a running sweep goes on to the new total; a completed or stopped one
    runs again."""
    return SweepOut.model_validate(sweeps.add_trials(sweep_id, body.n))

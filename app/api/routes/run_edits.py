"""What people do with runs after the fact: change a run's name, tags and note (in any
state), extend a finished run by more epochs, and delete many finished runs at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.deps import ManagerDep, StoreDep, guard
from app.api.run_listing import TAG_PATTERN
from app.api.schemas import GUARDED_RESPONSES, PathId, RunOut, error_responses
from app.api.storable import storable_text
from app.runs import RunNotFound, RunStateConflict

__all__ = ["BulkDelete", "BulkDeleted", "Extend", "RunEdit", "router"]

router = APIRouter(
    prefix="/api/runs",
    tags=["runs"],
    dependencies=[Depends(guard)],
    responses=GUARDED_RESPONSES,
)

MAX_TAGS = 20
MAX_NOTE = 5000
MAX_BULK = 500

Tag = Annotated[str, Field(pattern=TAG_PATTERN)]
Text = Annotated[str, AfterValidator(storable_text)]
RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]


class RunEdit(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tags": ["baseline", "lr-sweep"], "note": "best so far"}]},
    )

    name: Text | None = Field(None, min_length=1, max_length=200)
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    note: Text | None = Field(None, max_length=MAX_NOTE)


class Extend(BaseModel):
    """How many more epochs to train."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"epochs": 5}]})

    epochs: int = Field(ge=1, le=100, description="Epochs to add to those the run has done.")


class BulkDelete(BaseModel):
    """Runs to delete; only finished ones are."""

    model_config = ConfigDict(extra="forbid")

    ids: list[RunId] = Field(min_length=1, max_length=MAX_BULK)


class BulkDeleted(BaseModel):
    """What happened to each id: deleted, refused (its state), or not found."""

    deleted: list[str]
    refused: dict[str, str] = Field(description="Run id -> its state (not finished).")
    missing: list[str]


@router.patch("/{run_id}", responses=error_responses(404, 413))
def edit_run(run_id: PathId, body: RunEdit, manager: ManagerDep, store: StoreDep) -> RunOut:
    """Rename a run, set its tags (the whole list; duplicates dropped) or its note."""
    tags = list(dict.fromkeys(body.tags)) if body.tags is not None else None
    if not store.annotate(run_id, tags=tags, note=body.note, name=body.name):
        raise RunNotFound(f"no run with id {run_id!r}")
    return RunOut.model_validate(manager.get(run_id))


@router.post(
    "/{run_id}/extend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 413),
)
def extend_run(run_id: PathId, body: Extend, manager: ManagerDep) -> RunOut:
    """Queue a completed, stopped or early-stopped run with a checkpoint to train `epochs`
    more, from its newest checkpoint, in the same run (its params' `epochs` grows); a
    `resumed` message says from where. 409 without a checkpoint or in another state; 422
    at `epochs` when the new total is more than the recipe allows."""
    return RunOut.model_validate(manager.extend(run_id, body.epochs))


@router.post("/bulk/delete", responses=error_responses(413))
def delete_runs(body: BulkDelete, manager: ManagerDep) -> BulkDeleted:
    """Delete the finished runs among `ids` (with their history and files); the others are
    listed with their state and left alone."""
    result = BulkDeleted(deleted=[], refused={}, missing=[])
    for run_id in dict.fromkeys(body.ids):
        try:
            manager.delete(run_id)
        except RunNotFound:
            result.missing.append(run_id)
        except RunStateConflict as exc:
            result.refused[run_id] = exc.status
        else:
            result.deleted.append(run_id)
    return result

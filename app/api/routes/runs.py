"""Runs: create, list, read, stop, resume, delete; attach and detach callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from app.api.deps import ManagerDep, StoreDep, guard
from app.api.run_listing import RunListing
from app.api.schemas import (
    GUARDED_RESPONSES,
    MAX_OFFSET,
    MAX_SEQ,
    CallbackIn,
    CallbackOut,
    Metrics,
    PathId,
    RunCreate,
    RunOut,
    RunPage,
    error_responses,
)
from app.db import RunStatus
from app.live.downsample import batch_history
from app.runs.requests import HyperValues

__all__ = ["router"]

router = APIRouter(
    prefix="/api/runs",
    tags=["runs"],
    dependencies=[Depends(guard)],
    responses=GUARDED_RESPONSES,
)
# What a route that names a run may answer besides; those with a body may also get a 413.
_MISSING = error_responses(404)
_MISSING_OR_CONFLICT = error_responses(404, 409)
_WITH_BODY = error_responses(413)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_WITH_BODY)
def create_run(body: RunCreate, manager: ManagerDep, response: Response) -> RunOut:
    """Queue a run of `recipe`; it starts when a worker is free."""
    callbacks = [(cb.name, cb.params) for cb in body.callbacks]
    resources = body.resources.model_dump() if body.resources else None
    row = manager.create(body.recipe, body.params, callbacks, body.name, resources)
    response.headers["Location"] = f"/api/runs/{row.id}"
    return RunOut.model_validate(row)


@router.get("")
def list_runs(
    store: StoreDep,
    listing: Annotated[RunListing, Depends()],
    status_: Annotated[list[RunStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RunPage:
    """Runs, newest first unless `sort` / `order` say otherwise; `status` (repeatable) keeps
    only runs in those states, `q` those whose name, recipe, params, tags or note contain it,
    `tag` those with that tag. Page with `after=<next>` / `before=<prev>` (or `last=true`)."""
    statuses = tuple(s.value for s in status_ or [])
    page = store.query_runs(listing.query(statuses, limit, offset))
    items = [RunOut.model_validate(row) for row in page.rows]
    return RunPage(
        items=items, total=page.total, limit=limit, offset=offset, next=page.next, prev=page.prev
    )


@router.get("/{run_id}", responses=_MISSING)
def get_run(run_id: PathId, manager: ManagerDep) -> RunOut:
    """One run: its request, status, stop reason or error, and latest epoch stats."""
    return RunOut.model_validate(manager.get(run_id))


@router.get("/{run_id}/metrics", responses=_MISSING)
def get_metrics(
    run_id: PathId,
    manager: ManagerDep,
    store: StoreDep,
    max_points: Annotated[int, Query(ge=10, le=10_000)] = 1000,
) -> Metrics:
    """Per-epoch stats and the batch loss history (at most `max_points` batch points)."""
    manager.get(run_id)
    epochs, batches = store.metric_events(run_id)
    history = batch_history(epochs, batches, max_points)
    return Metrics(epochs=[_without_envelope(m) for m in epochs], batches=history)


@router.get("/{run_id}/events", responses=_MISSING)
def get_events(
    run_id: PathId,
    manager: ManagerDep,
    store: StoreDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """The run's messages with seq > after_seq, oldest first: every message already sent to
    WebSocket clients (the hub sends only what it has saved)."""
    manager.get(run_id)
    return store.events_after(run_id, after_seq, limit=limit)


@router.post("/{run_id}/stop", status_code=status.HTTP_202_ACCEPTED, responses=_MISSING_OR_CONFLICT)
def stop_run(run_id: PathId, manager: ManagerDep) -> RunOut:
    """Stop a running run at its next batch (202; the status message follows) or cancel a
    queued one; 409 for a run that already finished."""
    return RunOut.model_validate(manager.stop(run_id))


@router.post(
    "/{run_id}/pause", status_code=status.HTTP_202_ACCEPTED, responses=_MISSING_OR_CONFLICT
)
def pause_run(run_id: PathId, manager: ManagerDep) -> RunOut:
    """Hold a running run at its next batch (202; a `paused` status message follows, with the
    epoch and iteration); 409 naming the state for a run that is not running."""
    return RunOut.model_validate(manager.pause(run_id))


@router.post(
    "/{run_id}/resume", status_code=status.HTTP_202_ACCEPTED, responses=_MISSING_OR_CONFLICT
)
def resume_run(run_id: PathId, manager: ManagerDep) -> RunOut:
    """Let a paused run go on where it held, or queue an interrupted run again from its
    newest checkpoint."""
    return RunOut.model_validate(manager.resume(run_id))


@router.patch(
    "/{run_id}/hypers", status_code=status.HTTP_202_ACCEPTED, responses=_MISSING_OR_CONFLICT
)
def set_hypers(run_id: PathId, body: HyperValues, manager: ManagerDep) -> RunOut:
    """Set lr, momentum or weight decay of every param group at the run's next batch (202);
    a `hyper` message says the iteration where they took effect."""
    return RunOut.model_validate(manager.set_hypers(run_id, body))


@router.post(
    "/{run_id}/evaluate", status_code=status.HTTP_202_ACCEPTED, responses=_MISSING_OR_CONFLICT
)
def evaluate_run(run_id: PathId, manager: ManagerDep) -> RunOut:
    """Run validation at the run's next batch (202); an `evaluation` message follows with the
    valid stats and the iteration. The epoch's own validation still runs at its end."""
    return RunOut.model_validate(manager.evaluate(run_id))


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_MISSING_OR_CONFLICT)
def delete_run(run_id: PathId, manager: ManagerDep) -> None:
    """Delete a finished run with its history and files."""
    manager.delete(run_id)


@router.post(
    "/{run_id}/callbacks",
    status_code=status.HTTP_201_CREATED,
    responses=_MISSING_OR_CONFLICT | _WITH_BODY,
)
def attach_callback(run_id: PathId, body: CallbackIn, manager: ManagerDep) -> CallbackOut:
    """Attach a catalog callback; on a running run it joins at the next batch boundary."""
    return CallbackOut.model_validate(manager.attach(run_id, body.name, body.params))


@router.delete(
    "/{run_id}/callbacks/{cb_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_MISSING_OR_CONFLICT,
)
def detach_callback(run_id: PathId, cb_id: PathId, manager: ManagerDep) -> None:
    """Detach a callback; on a running run it leaves at the next batch boundary."""
    manager.detach(run_id, cb_id)


def _without_envelope(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("type", "run_id", "seq")}

"""The LR finder: a short run that sweeps the learning rate and suggests one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import ManagerDep, guard
from app.api.schemas import (
    GUARDED_RESPONSES,
    LRFindCreate,
    LRFindResult,
    PathId,
    RunOut,
    error_responses,
)

__all__ = ["router"]

router = APIRouter(
    prefix="/api", tags=["lr-find"], dependencies=[Depends(guard)], responses=GUARDED_RESPONSES
)


@router.post("/lr-find", status_code=status.HTTP_201_CREATED, responses=error_responses(413))
def find_lr(body: LRFindCreate, manager: ManagerDep, response: Response) -> RunOut:
    """Queue a run of `recipe` whose fit is the course's LR_Find: the lr grows exponentially
    from `min_lr` to `max_lr` over `max_iter` batches, or until the loss diverges. Its
    result is at `GET /api/runs/{id}/lr-find` (and in its `lr_find` message)."""
    resources = body.resources.model_dump() if body.resources else None
    row = manager.find_lr(body.recipe, body.params, body.finder, resources)
    response.headers["Location"] = f"/api/runs/{row.id}"
    return RunOut.model_validate(row)


@router.get("/runs/{run_id}/lr-find", responses=error_responses(404, 409))
def lr_find_result(run_id: PathId, manager: ManagerDep) -> LRFindResult:
    """The finder's curve and suggestion; 409 while it still sweeps, 404 for a run that is
    not an LR finder."""
    return LRFindResult.model_validate(manager.lr_find_result(run_id))

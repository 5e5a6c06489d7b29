"""Health: is the service up and its database reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.api.deps import ManagerDep, StoreDep, guard
from app.api.schemas import GUARDED_RESPONSES

__all__ = ["router"]

router = APIRouter(
    prefix="/api", tags=["health"], dependencies=[Depends(guard)], responses=GUARDED_RESPONSES
)


@router.get("/health")
def health(store: StoreDep, manager: ManagerDep) -> dict[str, Any]:
    """`{"status": "ok"}` once the database answers, with the worker pool's size and load."""
    store.ping()
    return {"status": "ok", **manager.load()}

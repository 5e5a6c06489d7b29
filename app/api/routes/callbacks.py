"""The callback catalog: what can be attached to a run, with each one's parameter schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.api.deps import guard
from app.api.schemas import GUARDED_RESPONSES
from app.catalog import callback_catalog

__all__ = ["router"]

router = APIRouter(
    prefix="/api", tags=["callbacks"], dependencies=[Depends(guard)], responses=GUARDED_RESPONSES
)


@router.get("/callbacks")
def list_callbacks() -> list[dict[str, Any]]:
    """Every attachable callback's name, description and parameter JSON Schema."""
    return callback_catalog.describe()

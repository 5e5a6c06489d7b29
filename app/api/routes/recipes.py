"""Recipes: what can be trained, with the JSON Schema of each one's parameters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.api.deps import ManagerDep, guard
from app.api.schemas import GUARDED_RESPONSES

__all__ = ["router"]

router = APIRouter(
    prefix="/api", tags=["recipes"], dependencies=[Depends(guard)], responses=GUARDED_RESPONSES
)


@router.get("/recipes")
def list_recipes(manager: ManagerDep) -> list[dict[str, Any]]:
    """Every recipe's name, description, metrics and parameter schema; the default first."""
    return manager.recipes.describe()

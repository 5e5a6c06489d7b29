"""Request and response bodies of the JSON API (docs/api.md describes them for people)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CallbackIn", "CallbackOut", "Metrics", "RunCreate", "RunOut", "RunPage"]

MAX_CALLBACKS = 32


class CallbackIn(BaseModel):
    """A catalog callback to attach: its name and its parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)


class RunCreate(BaseModel):
    """A request to start a run."""

    model_config = ConfigDict(extra="forbid")

    recipe: str = Field(max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    callbacks: list[CallbackIn] = Field(default_factory=list, max_length=MAX_CALLBACKS)
    name: str | None = Field(None, min_length=1, max_length=200)


class CallbackOut(BaseModel):
    """A callback attached to a run."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    params: dict[str, Any]
    attached_at: datetime


class RunOut(BaseModel):
    """A run: its request, its state and its latest epoch message."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: str
    recipe: str
    params: dict[str, Any]
    callbacks: list[CallbackOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stop_reason: dict[str, Any] | None
    error: str | None
    latest: dict[str, Any] | None


class RunPage(BaseModel):
    """One page of runs, newest first."""

    items: list[RunOut]
    total: int
    limit: int
    offset: int


class Metrics(BaseModel):
    """A run's per-epoch stats and its (downsampled) batch loss history."""

    epochs: list[dict[str, Any]]
    batches: list[dict[str, Any]]

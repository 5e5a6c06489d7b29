"""The tables: runs, the callbacks attached to them, every message a run published, and sweeps.

Portable SQL only (SQLite and PostgreSQL): JSON columns, no SQLite-only types or upserts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "CallbackRow",
    "EventRow",
    "RunRow",
    "RunStatus",
    "SweepRow",
    "SweepStatus",
    "utcnow",
]


class RunStatus(str, Enum):
    """A run's place in its life: queued -> running -> one of the finished states."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"  # holding at a batch boundary, its state in memory
    COMPLETED = "completed"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"
    PRUNED = "pruned"  # a sweep's trial its pruner stopped (stop_reason names it and the values)
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True once the run will not train again by itself."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (the only kind of time the database holds)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC timestamp that comes back timezone-aware from every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use app.db.models.utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    """Declarative base of fitboard's tables."""

    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class RunRow(Base):
    """One training run: what was asked for, where it is in its life, and its latest stats."""

    __tablename__ = "runs"
    # The runs page lists newest first, often filtered by status: one index serves both.
    # It also sorts by any column of SORT_KEYS, each with the id to break ties (keyset pages).
    __table_args__ = (
        Index("ix_runs_status_created_at", "status", "created_at"),
        *(Index(f"ix_runs_{key}_id", key, "id") for key in ("created_at", "name", "recipe")),
        *(Index(f"ix_runs_{key}_id", key, "id") for key in ("status", "duration")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    recipe: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    stop_reason: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    latest: Mapped[dict[str, Any] | None]  # the last epoch message, for lists and summaries
    # "<hostname>:<pid>" of the process whose RunManager created or resumed the run: recovery
    # at start interrupts an unfinished run only when its owner is gone (see Store).
    owner: Mapped[str | None] = mapped_column(String(300))
    # What the run asked of its executor ({"cpus", "gpus"}), and where the backend placed it
    # once it began ({"backend", "host", "pid", "node"}); None before that.
    resources: Mapped[dict[str, Any] | None]
    placement: Mapped[dict[str, Any] | None]
    # A sweep's trial: its sweep and its Optuna trial number (both None for other runs).
    # No foreign key: see migration 0002_sweeps (SQLite would copy `runs` to add one).
    sweep_id: Mapped[str | None] = mapped_column(String(32), index=True)
    trial_number: Mapped[int | None]
    # A fork: the run it was forked from (no foreign key: a fork outlives its parent) and
    # where, {"epoch", "batch", "iter", "hypers"}: the epoch it continued in (0-based), the
    # batches of it already done, the training batches done in all, and what it changed.
    parent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    fork_point: Mapped[dict[str, Any] | None]
    # Trained outside the server by a client that reports over /ws/report (owner: the
    # client's "<hostname>:<pid>"); only the holder of the run's write key may report on it.
    external: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    write_key_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 hex of the key
    # --- what people add (issue 11): labels to find runs by, and a note; both editable.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Seconds spent running, summed over its stretches (pauses and server downtime left out);
    # the stretch in progress is `now - started_at` on top.
    duration: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")

    callbacks: Mapped[list[CallbackRow]] = relationship(
        back_populates="run",
        order_by="(CallbackRow.attached_at, CallbackRow.id)",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class CallbackRow(Base):
    """A callback attached to a run (detaching deletes the row; the event log keeps history)."""

    __tablename__ = "run_callbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]]
    attached_at: Mapped[datetime]

    run: Mapped[RunRow] = relationship(back_populates="callbacks")


class EventRow(Base):
    """One published message, kept whole so that a reconnecting client can replay it."""

    __tablename__ = "events"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(20))
    time: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]]


class SweepStatus(str, Enum):
    """A sweep's place in its life: running until it has its trials, or is stopped."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"


class SweepRow(Base):
    """One Optuna search: the request it was created with and where it is. Its trials live in
    Optuna's own tables (`study_name`), each one a run tagged with `sweep_id`."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    request: Mapped[dict[str, Any]]  # the validated SweepRequest, as JSON
    n_trials: Mapped[int]  # grows when trials are added
    # Asked to stop: no more trials start; the sweep is `stopped` once those running end.
    stopping: Mapped[bool] = mapped_column(default=False)
    study_name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(300))  # as RunRow.owner: who drives it
    created_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

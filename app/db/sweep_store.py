"""The SQL of sweeps: their rows, and the runs that are their trials."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import sessionmaker

from app.db.models import RunRow, SweepRow, SweepStatus, utcnow
from app.db.store import _rowcount

__all__ = ["SweepStore"]


class SweepStore:
    """Sweeps read and written in short transactions (thread-safe, rows come back detached)."""

    def __init__(self, engine: Engine) -> None:
        self._session = sessionmaker(engine, expire_on_commit=False)

    def create(
        self,
        *,
        sweep_id: str,
        name: str,
        request: dict[str, Any],
        n_trials: int,
        study_name: str,
        owner: str,
    ) -> SweepRow:
        """Insert a running sweep."""
        row = SweepRow(
            id=sweep_id,
            name=name,
            status=SweepStatus.RUNNING.value,
            request=request,
            n_trials=n_trials,
            study_name=study_name,
            owner=owner,
            created_at=utcnow(),
        )
        with self._session.begin() as session:
            session.add(row)
        return row

    def get(self, sweep_id: str) -> SweepRow | None:
        """The sweep with this id, or None."""
        with self._session() as session:
            return session.get(SweepRow, sweep_id)

    def page(self, *, limit: int = 50, offset: int = 0) -> tuple[list[SweepRow], int]:
        """A page of sweeps, newest first, and how many there are."""
        query = select(SweepRow).order_by(SweepRow.created_at.desc(), SweepRow.id.desc())
        with self._session() as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            total = session.scalar(select(func.count()).select_from(SweepRow)) or 0
            return list(rows), total

    def running(self) -> list[SweepRow]:
        """Every sweep still running, whichever process drives it."""
        query = select(SweepRow).where(SweepRow.status == SweepStatus.RUNNING.value)
        with self._session() as session:
            return list(session.scalars(query.order_by(SweepRow.created_at)))

    def claim(self, sweep_id: str, owner: str | None, new_owner: str) -> bool:
        """Take over a running sweep from `owner` (a process that is gone); True if taken."""
        same = SweepRow.owner.is_(None) if owner is None else SweepRow.owner == owner
        statement = (
            update(SweepRow)
            .where(SweepRow.id == sweep_id, SweepRow.status == SweepStatus.RUNNING.value, same)
            .values(owner=new_owner)
        )
        with self._session.begin() as session:
            return _rowcount(session.execute(statement)) == 1

    def set_status(
        self,
        sweep_id: str,
        status: SweepStatus,
        *,
        from_: Iterable[SweepStatus] = tuple(SweepStatus),
        **fields: Any,
    ) -> bool:
        """Move a sweep to `status` from one of `from_` (finished ones get `finished_at`)."""
        finished = status is not SweepStatus.RUNNING
        values = {"status": status.value, "finished_at": utcnow() if finished else None, **fields}
        statement = (
            update(SweepRow)
            .where(SweepRow.id == sweep_id, SweepRow.status.in_([s.value for s in from_]))
            .values(**values)
        )
        with self._session.begin() as session:
            return _rowcount(session.execute(statement)) == 1

    def trial_runs(self, sweep_id: str) -> list[RunRow]:
        """The runs of a sweep's trials, by trial number."""
        query = (
            select(RunRow)
            .where(RunRow.sweep_id == sweep_id)
            .order_by(RunRow.trial_number, RunRow.created_at)
        )
        with self._session() as session:
            return list(session.scalars(query))

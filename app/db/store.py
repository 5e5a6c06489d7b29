"""The store: every SQL statement fitboard runs, behind methods named for what they do."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import CursorResult, Engine, Select, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.listing import RunQuery, RunsPage, keyset_page
from app.db.models import CallbackRow, EventRow, RunRow, RunStatus, utcnow
from app.live.messages import summary

__all__ = ["Store"]

UNFINISHED = tuple(status.value for status in RunStatus if not status.finished)


class Store:
    """Runs, attached callbacks and the event log, read and written in short transactions.

    Thread-safe: every method runs in a transaction of its own. Rows come back detached and
    fully loaded.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self._session() as session:
            session.execute(select(1))

    # --- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        name: str,
        recipe: str,
        params: dict[str, Any],
        callbacks: Sequence[tuple[str, str, dict[str, Any]]] = (),
        owner: str | None = None,
        resources: dict[str, Any] | None = None,
        sweep_id: str | None = None,
        trial_number: int | None = None,
        external: bool = False,
        write_key_hash: str | None = None,
        parent_id: str | None = None,
        fork_point: dict[str, Any] | None = None,
    ) -> RunRow:
        """Insert a queued run with its callbacks, given as (id, name, params), owned by
        `owner` (`this_process()` of the manager that will train it, or for an `external` run
        the client's process, which reports with the key `write_key_hash` digests), asking
        `resources`; a sweep's trial also carries its sweep and trial number, a fork its
        parent and fork point."""
        now = utcnow()
        run = RunRow(
            id=run_id,
            name=name,
            recipe=recipe,
            params=params,
            status=RunStatus.QUEUED.value,
            created_at=now,
            owner=owner,
            resources=resources,
            sweep_id=sweep_id,
            trial_number=trial_number,
            external=external,
            write_key_hash=write_key_hash,
            parent_id=parent_id,
            fork_point=fork_point,
        )
        run.callbacks = [
            CallbackRow(id=cb_id, name=cb_name, params=cb_params, attached_at=now)
            for cb_id, cb_name, cb_params in callbacks
        ]
        with self._session.begin() as session:
            session.add(run)
        return run

    def get_run(self, run_id: str) -> RunRow | None:
        """The run with this id, or None."""
        with self._session() as session:
            return session.get(RunRow, run_id)

    def forks_of(self, run_id: str) -> list[RunRow]:
        """The runs forked from this one, oldest first."""
        query = select(RunRow).where(RunRow.parent_id == run_id).order_by(RunRow.created_at)
        with self._session() as session:
            return list(session.scalars(query))

    def list_runs(
        self, statuses: Iterable[str] = (), *, limit: int = 50, offset: int = 0
    ) -> tuple[list[RunRow], int]:
        """A page of runs, newest first, optionally only those in `statuses`; and the total."""
        page = self.query_runs(RunQuery(statuses=tuple(statuses), limit=limit, offset=offset))
        return page.rows, page.total

    def query_runs(self, query: RunQuery) -> RunsPage:
        """One page of runs as `query` sorts, searches and positions it (`app.db.listing`)."""
        with self._session() as session:
            return keyset_page(session, query)

    def annotate(
        self,
        run_id: str,
        *,
        tags: list[str] | None = None,
        note: str | None = None,
        name: str | None = None,
    ) -> bool:
        """Set a run's tags, note or name (those given); False if there is no such run."""
        values = {
            key: value
            for key, value in (("tags", tags), ("note", note), ("name", name))
            if value is not None
        }
        if not values:
            return self.get_run(run_id) is not None
        with self._session.begin() as session:
            statement = update(RunRow).where(RunRow.id == run_id).values(**values)
            return _rowcount(session.execute(statement)) == 1

    def transition(
        self,
        run_id: str,
        *,
        from_: Iterable[RunStatus],
        to: RunStatus,
        held_by: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move a run to `to` (setting `fields`) only if it is in one of `from_` and, when
        `held_by` is given, still owned by it; True if moved.

        One conditional UPDATE, so two writers can never both win the same transition, and a
        run another process changed meanwhile is left exactly as that process wrote it.
        """
        values = {"status": to.value, **fields}
        now = utcnow()
        if to is RunStatus.RUNNING:
            values.setdefault("started_at", now)
        if to.finished:
            values.setdefault("finished_at", now)
        statement = (
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status.in_([s.value for s in from_]))
            .values(**values)
        )
        if held_by is not None:
            statement = statement.where(RunRow.owner == held_by)
        with self._session.begin() as session:
            if to is not RunStatus.RUNNING:  # a running stretch may end here: count it
                values.setdefault("duration", _duration_until(session, run_id, now))
                statement = statement.values(duration=values["duration"])
            return _rowcount(session.execute(statement)) == 1

    def unfinished_owners(self) -> list[tuple[str, str | None]]:
        """(id, owner) of every queued or running run trained by a fitboard process (external
        runs are the server's heartbeat's business: `unfinished_external`)."""
        query = select(RunRow.id, RunRow.owner).where(
            RunRow.status.in_(UNFINISHED), RunRow.external.is_(False)
        )
        with self._session() as session:
            return [(run_id, owner) for run_id, owner in session.execute(query).all()]

    def unfinished_external(self) -> list[str]:
        """Ids of the external runs that have not finished."""
        query = select(RunRow.id).where(RunRow.status.in_(UNFINISHED), RunRow.external.is_(True))
        with self._session() as session:
            return list(session.scalars(query))

    def interrupt(self, run_id: str, owner: str | None) -> bool:
        """Mark an unfinished run interrupted if `owner` still holds it; True if it did.

        Conditional on the owner, so a run another process claimed or finished since the
        caller looked is left exactly as that process wrote it.
        """
        same_owner = RunRow.owner.is_(None) if owner is None else RunRow.owner == owner
        with self._session.begin() as session:
            # The run ended when its process last said something, not when this one noticed:
            # the time the server was down is neither in its finish time nor in its duration.
            last = session.scalar(select(func.max(EventRow.time)).where(EventRow.run_id == run_id))
            ended = utcnow() if last is None else datetime.fromtimestamp(last, timezone.utc)
            statement = (
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status.in_(UNFINISHED), same_owner)
                .values(
                    status=RunStatus.INTERRUPTED.value,
                    finished_at=ended,
                    duration=_duration_until(session, run_id, ended),
                )
            )
            return _rowcount(session.execute(statement)) == 1

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its callbacks and events (the caller checked it is finished)."""
        with self._session.begin() as session:
            session.execute(delete(EventRow).where(EventRow.run_id == run_id))
            session.execute(delete(CallbackRow).where(CallbackRow.run_id == run_id))
            session.execute(delete(RunRow).where(RunRow.id == run_id))

    # --- callbacks --------------------------------------------------------------------------

    def add_callback(
        self, run_id: str, cb_id: str, name: str, params: dict[str, Any]
    ) -> CallbackRow:
        """Record a callback attached to a run."""
        row = CallbackRow(id=cb_id, run_id=run_id, name=name, params=params, attached_at=utcnow())
        with self._session.begin() as session:
            session.add(row)
        return row

    def remove_callback(self, run_id: str, cb_id: str) -> bool:
        """Forget a detached callback; False if the run has no such callback."""
        statement = delete(CallbackRow).where(CallbackRow.run_id == run_id, CallbackRow.id == cb_id)
        with self._session.begin() as session:
            return _rowcount(session.execute(statement)) == 1

    # --- events -----------------------------------------------------------------------------

    def save_events(self, messages: Sequence[dict[str, Any]]) -> None:
        """Append messages to the log; an epoch message also becomes its run's `latest` while
        the run is unfinished (the final transition sets the last one itself)."""
        if not messages:
            return
        rows = [
            {
                "run_id": m["run_id"],
                "seq": m["seq"],
                "type": m["type"],
                "time": m["time"],
                "data": m,
            }
            for m in messages
        ]
        latest = {m["run_id"]: summary(m) for m in messages if m["type"] == "epoch"}
        # On a Connection, not a Session: the statements run as Core, without the ORM's bulk
        # layer (which checks each WHERE against the session's identity map, always empty
        # here). This runs for every message a run publishes, on the GIL the training threads
        # share: half the CPU of the ORM path.
        with self.engine.begin() as connection:
            connection.execute(insert(EventRow), rows)
            for run_id, message in latest.items():
                connection.execute(
                    update(RunRow)
                    .where(RunRow.id == run_id, RunRow.status.in_(UNFINISHED))
                    .values(latest=message)
                )

    def events_after(
        self, run_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The run's messages with seq > after_seq, in order."""
        query = (
            select(EventRow.data)
            .where(EventRow.run_id == run_id, EventRow.seq > after_seq)
            .order_by(EventRow.seq)
            .limit(limit)
        )
        with self._session() as session:
            return list(session.scalars(query))

    def last_seq(self, run_id: str) -> int:
        """The highest seq stored for a run (0 if none)."""
        query = select(func.max(EventRow.seq)).where(EventRow.run_id == run_id)
        with self._session() as session:
            return session.scalar(query) or 0

    def last_event(self, run_id: str, type: str) -> dict[str, Any] | None:
        """The run's newest message of this `type`, or None."""
        query = (
            select(EventRow.data)
            .where(EventRow.run_id == run_id, EventRow.type == type)
            .order_by(EventRow.seq.desc())
            .limit(1)
        )
        with self._session() as session:
            return session.scalar(query)

    def epoch_events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's epoch messages, in seq order."""
        with self._session() as session:
            return [data for _, data in session.execute(self._epochs_query(run_id))]

    @staticmethod
    def _epochs_query(run_id: str) -> Select[tuple[int, dict[str, Any]]]:
        return (
            select(EventRow.seq, EventRow.data)
            .where(EventRow.run_id == run_id, EventRow.type == "epoch")
            .order_by(EventRow.seq)
        )

    def metric_events(self, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The run's epoch messages, and the batch messages that `batch_history` may need, each
        in seq order.

        A finished epoch's message carries its own curve, which supersedes its live `batch`
        messages; so when every epoch has one, only the batches after the last epoch (the one
        still training) are read. A long run's GET /metrics then costs its epochs, not every
        throttled batch it ever sent.
        """
        with self._session() as session:
            epoch_rows = session.execute(self._epochs_query(run_id)).all()
            epochs = [data for _, data in epoch_rows]
            curved = all((m.get("batches") or {}).get("iter") for m in epochs)
            after = epoch_rows[-1][0] if epoch_rows and curved else 0
            batches_query = (
                select(EventRow.data)
                .where(EventRow.run_id == run_id, EventRow.type == "batch", EventRow.seq > after)
                .order_by(EventRow.seq)
            )
            batches = list(session.scalars(batches_query))
        return epochs, batches


def _duration_until(session: Session, run_id: str, end: datetime) -> float:
    """The run's duration if its running stretch (if it is running) ended at `end`."""
    row = session.execute(
        select(RunRow.status, RunRow.started_at, RunRow.duration).where(RunRow.id == run_id)
    ).first()
    if row is None:
        return 0.0
    status, started_at, duration = row
    if status != RunStatus.RUNNING.value or started_at is None:
        return float(duration or 0.0)
    return float(duration or 0.0) + max(0.0, (end - started_at).total_seconds())


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE matched (a CursorResult's count; typed loosely by SQLAlchemy)."""
    assert isinstance(result, CursorResult)
    return result.rowcount

"""The runs list as SQL: sort by an indexed column, search, filter, and keyset pages.

A keyset page starts after (or before) the row a cursor names, by its sort value and id, so
the database walks the index from there: the last page of 10,000 runs costs what the first
does, where an OFFSET would read and skip every row before it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db.models import RunRow

__all__ = [
    "SORT_KEYS",
    "Cursor",
    "RunQuery",
    "RunsPage",
    "SortKey",
    "decode_cursor",
    "encode_cursor",
    "keyset_page",
]

SortKey = Literal["created_at", "name", "recipe", "status", "duration"]
# Each has an index on (column, id) (models.RunRow, migration 0002).
SORT_KEYS: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": RunRow.created_at,
    "name": RunRow.name,
    "recipe": RunRow.recipe,
    "status": RunRow.status,
    "duration": RunRow.duration,
}
Cursor = tuple[Any, str]  # (the row's sort value, its id)


@dataclass(frozen=True)
class RunQuery:
    """Which runs, in which order, and which page of them.

    `after` / `before`: the page just after / before the row a cursor names; `last`: the last
    page; otherwise the page at `offset` (the old paging, kept for scripts).
    """

    statuses: tuple[str, ...] = ()
    search: str | None = None
    tag: str | None = None
    sort: SortKey = "created_at"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    after: Cursor | None = None
    before: Cursor | None = None
    last: bool = False


@dataclass
class RunsPage:
    """The rows of a page, how many runs match in all, and the cursors of its neighbours."""

    rows: list[RunRow]
    total: int
    next: str | None = None
    prev: str | None = None


def keyset_page(session: Session, query: RunQuery) -> RunsPage:
    """Run `query` in `session`: at most `limit` rows, in the query's order."""
    key = SORT_KEYS[query.sort]
    matching = _filtered(select(RunRow), query)
    total = session.scalar(_filtered(select(func.count()).select_from(RunRow), query)) or 0
    backwards = query.before is not None or query.last  # read from the far end, then flip
    descending = query.descending != backwards
    ordered = matching.order_by(
        *((key.desc(), RunRow.id.desc()) if descending else (key.asc(), RunRow.id.asc()))
    )
    cursor = query.before if backwards else query.after
    if cursor is not None:
        ordered = ordered.where(_beyond(key, cursor, descending))
    elif not backwards and query.offset:
        ordered = ordered.offset(query.offset)
    rows = list(session.scalars(ordered.limit(query.limit + 1)))
    more = len(rows) > query.limit  # beyond the page, in the direction read
    rows = rows[: query.limit]
    if backwards:
        rows.reverse()
        has_next, has_prev = query.before is not None, more
    else:
        has_next, has_prev = more, query.after is not None or query.offset > 0
    return RunsPage(
        rows=rows,
        total=total,
        next=encode_cursor(rows[-1], query.sort) if rows and has_next else None,
        prev=encode_cursor(rows[0], query.sort) if rows and has_prev else None,
    )


def _filtered(statement: Select[Any], query: RunQuery) -> Select[Any]:
    if query.statuses:
        statement = statement.where(RunRow.status.in_(query.statuses))
    if query.search:
        pattern = f"%{_escaped(query.search)}%"
        searched = (
            RunRow.name,
            RunRow.recipe,
            cast(RunRow.params, String),
            cast(RunRow.tags, String),
            RunRow.note,
        )
        statement = statement.where(or_(*(c.ilike(pattern, escape="\\") for c in searched)))
    if query.tag:
        # Tags are plain words (no quotes), so a quoted one matches exactly one list item.
        quoted = f'%"{_escaped(query.tag)}"%'
        statement = statement.where(cast(RunRow.tags, String).like(quoted, escape="\\"))
    return statement


def _escaped(text: str) -> str:
    """`text` for a LIKE pattern: its own `%`, `_` and `\\` match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _beyond(key: InstrumentedAttribute[Any], cursor: Cursor, descending: bool) -> Any:
    """Rows after `cursor` in (key, id) order: a comparison the (key, id) index answers."""
    value, run_id = cursor
    if descending:
        return or_(key < value, and_(key == value, RunRow.id < run_id))
    return or_(key > value, and_(key == value, RunRow.id > run_id))


def encode_cursor(row: RunRow, sort: str) -> str:
    """An opaque, URL-safe token naming `row`'s place in a list sorted by `sort`."""
    value = getattr(row, sort)
    plain = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([sort, plain, row.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> Cursor:
    """The (value, id) of a cursor made for a list sorted by `sort`; ValueError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        made_for, value, run_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("is not a cursor this server made") from None
    if made_for != sort or not isinstance(run_id, str):
        raise ValueError(f"was made for another sort ({made_for!r}), not {sort!r}")
    if sort == "created_at":
        try:
            return datetime.fromisoformat(str(value)), run_id
        except ValueError:
            raise ValueError("is not a cursor this server made") from None
    expected = (int, float) if sort == "duration" else str
    if not isinstance(value, expected) or isinstance(value, bool):
        raise ValueError("is not a cursor this server made")
    return value, run_id

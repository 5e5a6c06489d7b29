"""The runs list's query parameters: sort, order, search, tag and keyset cursors.

One dependency (`RunListing`) reads and checks them, so `GET /api/runs` stays one line, and
a cursor that is not one this server made is a 422 at its parameter, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from fastapi.exceptions import RequestValidationError

from app.api.storable import text_problem
from app.db.listing import Cursor, RunQuery, SortKey, decode_cursor

__all__ = ["TAG_PATTERN", "RunListing"]

# A tag is one plain word (letters, digits, `_ . : -`), so it can be matched exactly.
TAG_PATTERN = r"^[A-Za-z0-9_.:-]{1,40}$"
_CURSOR = Query(max_length=1000, pattern=r"^[A-Za-z0-9_-]+$")


class RunListing:
    """`sort`, `order`, `q`, `tag`, `after`, `before`, `last` of `GET /api/runs`."""

    def __init__(
        self,
        sort: Annotated[SortKey, Query(description="The column to sort by (indexed).")] = (
            "created_at"
        ),
        order: Annotated[Literal["asc", "desc"], Query()] = "desc",
        q: Annotated[
            str | None,
            Query(
                max_length=200,
                description="Runs whose name, recipe, params, tags or note contain this "
                "(case-insensitive).",
            ),
        ] = None,
        tag: Annotated[str | None, Query(pattern=TAG_PATTERN)] = None,
        after: Annotated[str | None, _CURSOR] = None,
        before: Annotated[str | None, _CURSOR] = None,
        last: Annotated[bool, Query(description="The last page (with `sort`, `order`).")] = False,
    ) -> None:
        self.sort, self.descending = sort, order == "desc"
        problem = text_problem(q) if q else None
        if problem is not None:  # a NUL or a lone surrogate: no database can compare it
            raise _invalid("q", f"text {problem}", q)
        self.search = q or None
        self.tag = tag
        if sum(x is not None and x is not False for x in (after, before, last or None)) > 1:
            raise _invalid("after", "give at most one of after, before and last")
        self.after = _cursor("after", after, sort)
        self.before = _cursor("before", before, sort)
        self.last = last

    def query(self, statuses: tuple[str, ...], limit: int, offset: int) -> RunQuery:
        """The store's query for this listing, with the page's status filter and size."""
        return RunQuery(
            statuses=statuses,
            search=self.search,
            tag=self.tag,
            sort=self.sort,  # type: ignore[arg-type]  # checked by the Query's Literal
            descending=self.descending,
            limit=limit,
            offset=offset,
            after=self.after,
            before=self.before,
            last=self.last,
        )


def _cursor(name: str, token: str | None, sort: str) -> Cursor | None:
    if token is None:
        return None
    try:
        return decode_cursor(token, sort)
    except ValueError as exc:
        raise _invalid(name, str(exc), token) from None


def _invalid(name: str, message: str, value: object = None) -> RequestValidationError:
    error = {"type": "value_error", "loc": ("query", name), "msg": message, "input": value}
    return RequestValidationError([error])

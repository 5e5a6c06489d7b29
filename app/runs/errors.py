"""What the run domain refuses, in its own terms; the API maps each to a status code."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = ["InvalidRequest", "Loc", "RunNotFound", "RunStateConflict"]

Loc = tuple[str | int, ...]


class RunNotFound(LookupError):
    """No run (or no callback on the run) has this id (404)."""


class RunStateConflict(Exception):
    """The run's state does not allow the action; the message names the state (409)."""

    def __init__(self, run_id: str, status: str, action: str, hint: str = "") -> None:
        self.status = status
        super().__init__(f"run {run_id} is {status}: cannot {action}{hint}")


class InvalidRequest(ValueError):
    """A request that fails validation (422). `errors` are pydantic-style, each `loc` counted
    from the top of the request (`["callbacks", 0, "params", "patience"]`); the API puts
    `body` in front, the command line words them as flags."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))

    @classmethod
    def at(cls, loc: Loc, message: str) -> InvalidRequest:
        """One error at `loc`."""
        return cls([{"type": "value_error", "loc": list(loc), "msg": message}])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: Loc) -> InvalidRequest:
        """pydantic's errors, their `loc` prefixed with where the model sits in the request."""
        errors = [
            {"type": e["type"], "loc": [*prefix, *e["loc"]], "msg": e["msg"]} for e in exc.errors()
        ]
        return cls(errors)

    def within(self, *prefix: str | int) -> InvalidRequest:
        """The same errors located inside `prefix` (e.g. `"body"` for an HTTP request)."""
        return InvalidRequest([{**e, "loc": [*prefix, *e["loc"]]} for e in self.errors])

"""What the sweep domain refuses; the API maps each to a status code (404, 409)."""

from __future__ import annotations

__all__ = ["SweepNotFound", "SweepStateConflict"]


class SweepNotFound(LookupError):
    """No sweep has this id (404)."""


class SweepStateConflict(Exception):
    """The sweep's state does not allow the action; the message names the state (409)."""

    def __init__(self, sweep_id: str, status: str, action: str) -> None:
        self.status = status
        super().__init__(f"sweep {sweep_id} is {status}: cannot {action}")

"""Runs: their life (`RunManager`), the one check of a request, and where they execute
(`backends`)."""

from app.runs.errors import InvalidRequest, RunNotFound, RunStateConflict
from app.runs.manager import RunManager

__all__ = ["InvalidRequest", "RunManager", "RunNotFound", "RunStateConflict"]

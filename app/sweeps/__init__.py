"""Sweeps: Optuna searches whose trials are ordinary runs (`SweepDriver`), the request and its
one check (`requests`, `space`), and the study side (`study`)."""

from app.sweeps.driver import SweepDriver
from app.sweeps.errors import SweepNotFound, SweepStateConflict
from app.sweeps.requests import MAX_TRIALS, SweepRequest

__all__ = ["MAX_TRIALS", "SweepDriver", "SweepNotFound", "SweepRequest", "SweepStateConflict"]

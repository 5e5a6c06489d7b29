"""Persistence: SQLAlchemy models, the engine and the store (the only place with SQL)."""

from app.db.engine import init_db, make_engine
from app.db.models import RunStatus
from app.db.store import Store

__all__ = ["RunStatus", "Store", "init_db", "make_engine"]

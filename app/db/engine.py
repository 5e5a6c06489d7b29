"""Engine set-up: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from app.db.migrations import upgrade

__all__ = ["init_db", "make_engine", "normalized_url"]


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a writer commits; NORMAL is durable across app crashes in WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def normalized_url(url: str) -> str:
    """`url` as fitboard connects to it: `postgresql://` means psycopg 3 (the driver fitboard
    ships with). Optuna's storage (sweeps) opens the same URL."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine for `url` (`normalized_url`)."""
    parsed = make_url(normalized_url(url))
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # Worker threads and the event loop's writer share the pool; wait on a lock, don't fail.
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _on_sqlite_connect)
    return engine


def init_db(engine: Engine) -> None:
    """Bring fitboard's schema up to date: apply pending Alembic migrations (upgrade head)."""
    upgrade(engine)

"""Alembic migrations of fitboard's schema, shipped inside the package.

`upgrade(engine)` brings a database to the newest schema (the service calls it at start-up
through `app.db.init_db`, and `fitboard db upgrade` runs it). `current(engine)` names the
revision a database is at. Migrations run on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current", "head", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """Alembic's configuration, found next to this module (no dependence on the CWD)."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`, in one transaction where the database allows."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for a database Alembic never touched."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision this version of fitboard ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision

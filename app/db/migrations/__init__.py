"""Alembic migrations of fitboard's schema, shipped inside the package.

`upgrade(engine)` brings a database to the newest schema (the service calls it at start-up
through `app.db.init_db`, and `fitboard db upgrade` runs it). `current(engine)` names the
revision a database is at. Migrations run on SQLite (batch mode) and PostgreSQL alike.

fitboard records its revision in its own table, `fitboard_alembic_version`: Optuna's RDB
storage (sweeps, in the same database) keeps its own schema's revision in Alembic's default
`alembic_version`, and each would read the other's revision as its own. A database migrated
before the rename has fitboard's revision in `alembic_version`; `upgrade` moves it first.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "alembic_config", "current", "head", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSION_TABLE = "fitboard_alembic_version"
_SHARED_VERSION_TABLE = "alembic_version"  # Alembic's default name: Optuna's, since sweeps


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
        _adopt_shared_version_table(connection, config)
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for a database Alembic never touched."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def _adopt_shared_version_table(connection: Connection, config: Config) -> None:
    """Move a revision of fitboard's out of `alembic_version` (where fitboard kept it before
    sweeps) into `fitboard_alembic_version`, leaving Optuna's revisions where they are."""
    tables = set(inspect(connection).get_table_names())
    if _SHARED_VERSION_TABLE not in tables or VERSION_TABLE in tables:
        return
    ours = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    found = connection.execute(text(f"SELECT version_num FROM {_SHARED_VERSION_TABLE}")).scalars()
    revisions = [revision for revision in found if revision in ours]
    if not revisions:
        return
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    for revision in revisions:
        context.stamp(ScriptDirectory.from_config(config), revision)
    connection.execute(text(f"DROP TABLE {_SHARED_VERSION_TABLE}"))


def head() -> str:
    """The newest revision this version of fitboard ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision

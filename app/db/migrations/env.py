"""Alembic's entry point: migrate the connection handed over by app.db.migrations.upgrade(),
or, from the alembic command line, the database named by fitboard's settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from app.db.migrations import VERSION_TABLE
from app.db.models import Base

config = context.config
# Any 64-bit constant: serialises fitboard processes that migrate one PostgreSQL at once.
_PG_MIGRATION_LOCK = 0x66697462_6F617264


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters a table by copying it; Alembic's batch mode does that
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        context.run_migrations()


def _url() -> str:
    from app.config import get_settings
    from app.db.engine import make_engine

    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    assert url is not None
    return make_engine(url).url.render_as_string(hide_password=False)


if context.is_offline_mode():
    context.configure(
        url=_url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _migrate(connection)
else:
    from app.db.engine import make_engine

    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _migrate(conn)
    finally:
        engine.dispose()

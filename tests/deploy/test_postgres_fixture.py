"""The database fixtures give each test its own, empty, working database."""

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.fixtures.postgres import fresh_postgres_database

_seen: list[str] = []


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_a_fresh_empty_database(database_url, round_):
    engine = create_engine(database_url)
    try:
        assert inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE marker (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO marker (id) VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM marker")).scalar_one() == 1
    finally:
        engine.dispose()
    assert database_url not in _seen
    _seen.append(database_url)


def test_postgres_param_is_a_real_postgres(postgres_database_url):
    engine = create_engine(postgres_database_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
        assert int(version) >= 150000
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_database_is_dropped_afterwards_even_with_an_open_connection(postgres_server):
    with fresh_postgres_database(postgres_server) as url:
        leaked = create_engine(url).connect()  # left open on purpose
        name = make_url(url).database
    leaked.invalidate()
    admin = create_engine(postgres_server)
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar_one()
        assert found == 0
    finally:
        admin.dispose()

"""Alembic migrations: they build the models' schema on SQLite and PostgreSQL, keep every run
across upgrades, and load from an installed package whatever the working directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import optuna
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from app.db import Store, init_db, make_engine
from app.db.migrations import VERSION_TABLE, alembic_config, current, head, upgrade
from app.db.models import Base

FIRST_RELEASE = "0001"  # the schema fitboard 0.1.0 shipped
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_head_builds_exactly_the_models_schema(engine: Engine):
    init_db(engine)
    assert current(engine) == head()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ (write a migration): {diff}"


def test_upgrade_twice_changes_nothing(engine: Engine):
    upgrade(engine)
    before = sorted(inspect(engine).get_table_names())
    upgrade(engine)
    assert sorted(inspect(engine).get_table_names()) == before
    assert {"runs", "run_callbacks", "events", "sweeps", VERSION_TABLE} <= set(before)


def _insert_first_release_rows(engine: Engine) -> None:
    """Two runs as 0.1.0 wrote them: plain SQL against the first revision's tables."""
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    latest = '{"type": "epoch", "run_id": "r1", "seq": 2, "epoch": 0, "train": {"loss": 0.5}}'
    with engine.begin() as conn:
        for run_id, status in (("r1", "completed"), ("r2", "interrupted")):
            conn.execute(
                text(
                    "INSERT INTO runs (id, name, recipe, params, status, created_at, latest) "
                    "VALUES (:id, :name, 'digits_mlp', :params, :status, :created, :latest)"
                ),
                {
                    "id": run_id,
                    "name": f"run {run_id}",
                    "params": '{"epochs": 1, "lr": 0.5}',
                    "status": status,
                    "created": created,
                    "latest": latest if run_id == "r1" else None,
                },
            )
        conn.execute(
            text(
                "INSERT INTO run_callbacks (id, run_id, name, params, attached_at) "
                "VALUES ('c1', 'r1', 'early_stopping', '{\"patience\": 2}', :at)"
            ),
            {"at": created},
        )
        for seq, kind in ((1, "status"), (2, "epoch")):
            conn.execute(
                text(
                    "INSERT INTO events (run_id, seq, type, time, data) "
                    "VALUES ('r1', :seq, :type, 1.5, :data)"
                ),
                {"seq": seq, "type": kind, "data": f'{{"type": "{kind}", "seq": {seq}}}'},
            )


def test_upgrading_from_the_first_release_keeps_every_run(engine: Engine):
    upgrade(engine, FIRST_RELEASE)
    _insert_first_release_rows(engine)

    init_db(engine)  # what the service does at start-up

    assert current(engine) == head()
    store = Store(engine)
    runs, total = store.list_runs()
    assert total == 2
    assert {run.id: run.status for run in runs} == {"r1": "completed", "r2": "interrupted"}
    r1 = store.get_run("r1")
    assert r1 is not None
    assert r1.params == {"epochs": 1, "lr": 0.5}
    assert r1.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert r1.latest is not None and r1.latest["train"] == {"loss": 0.5}
    assert [(cb.id, cb.name, cb.params) for cb in r1.callbacks] == [
        ("c1", "early_stopping", {"patience": 2})
    ]
    assert [m["seq"] for m in store.events_after("r1")] == [1, 2]


def test_a_database_migrated_before_sweeps_moves_its_revision_out_of_alembic_version(
    engine: Engine,
):
    """fitboard kept its revision in `alembic_version` until sweeps put Optuna's there."""
    upgrade(engine, FIRST_RELEASE)
    with engine.begin() as conn:  # as fitboard 0.1.0 left it
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text(f"INSERT INTO alembic_version VALUES ('{FIRST_RELEASE}')"))
    _insert_first_release_rows(engine)

    init_db(engine)

    assert current(engine) == head()
    assert "alembic_version" not in inspect(engine).get_table_names()
    assert Store(engine).list_runs()[1] == 2


def test_optuna_storage_and_fitboard_share_one_database(engine: Engine, database_url: str):
    """Each keeps its own schema revision: fitboard's migrations and Optuna's compatibility
    check both pass, whichever touched the database first."""
    storage = optuna.storages.RDBStorage(database_url)  # Optuna first: it stamps its own
    try:
        init_db(engine)
        assert current(engine) == head()
        again = optuna.storages.RDBStorage(database_url)  # checks its schema revision
        again.engine.dispose()
    finally:
        storage.engine.dispose()


def test_downgrade_to_nothing_and_back(engine: Engine):
    upgrade(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    upgrade(engine)
    assert current(engine) == head()


_UPGRADE_IN_A_NEW_PROCESS = (
    "import sys; from app.db import make_engine, init_db; from app.db.migrations import "
    "current, head; e = make_engine(sys.argv[1]); init_db(e); assert current(e) == head()"
)


def _start_upgrade(url: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _UPGRADE_IN_A_NEW_PROCESS, url],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.postgres
def test_processes_starting_together_migrate_once(postgres_database_url: str, tmp_path: Path):
    """Two replicas starting at once: the advisory lock makes the second wait, then no-op."""
    processes = [_start_upgrade(postgres_database_url, tmp_path) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs


def test_migrations_do_not_depend_on_the_working_directory(tmp_path: Path):
    """A wheel has no alembic.ini in the CWD: upgrading from anywhere must work."""
    process = _start_upgrade(f"sqlite:///{tmp_path / 'elsewhere.db'}", tmp_path)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output


@pytest.mark.slow
def test_an_installed_wheel_migrates_from_any_directory(tmp_path: Path):
    """Build the wheel, unpack it as pip would, and migrate with only the wheel's `app`."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    site = tmp_path / "site"
    with zipfile.ZipFile(next(wheels.glob("fitboard-*.whl"))) as wheel:
        wheel.extractall(site)
    code = _UPGRADE_IN_A_NEW_PROCESS + "; import app; print(app.__file__)"
    url = f"sqlite:///{tmp_path / 'wheel.db'}"
    result = subprocess.run(
        [sys.executable, "-c", code, url],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(site)), "imported app from outside the wheel"

"""The `fitboard` command, run as a user runs it: a subprocess, its output and its exit status."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from app.catalog import RecipeRegistry, callback_catalog, register_builtins
from app.cli import main
from app.db import Store
from app.db.migrations import head

ROOT = Path(__file__).resolve().parents[3]
COMMAND_TIMEOUT = 120


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITBOARD_")}
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1", **extra}


def fitboard(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m app.cli ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        env=_env(**env),
        cwd=ROOT,
    )


def _popen(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(**env),
        cwd=ROOT,
    )


def fitboard_here(capsys, *args: str) -> tuple[int, str, str]:
    """Run `fitboard ARGS` in this process (fast: torch is already imported)."""
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _store(data_dir: Path) -> Store:
    return Store(create_engine(f"sqlite:///{data_dir / 'fitboard.db'}"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- help -----------------------------------------------------------------------------------


def test_help_documents_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for command in ("serve", "run", "db"):
        assert f"    {command} " in out
    assert "FITBOARD_" in out


def test_run_help_lists_every_recipe_and_callback_with_params():
    result = fitboard("run", "--help")
    assert result.returncode == 0
    # What a fresh process registers: this one may hold test recipes loaded by other tests.
    builtins = RecipeRegistry()
    register_builtins(builtins)
    for name in [*builtins.names(), *callback_catalog.names()]:
        assert f"  {name}: " in result.stdout, name
    assert "lr=0.03  [> 0, <= 10]" in result.stdout
    assert "--set KEY=VALUE" in result.stdout and "--callback" in result.stdout


# --- run ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_run_trains_and_stores_the_run_for_the_dashboard(tmp_path):
    result = fitboard(
        "run", "mlp", "--set", "epochs=2", "--set", "lr=0.3", "--name", "from-cli",
        "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert lines[-1].endswith("completed")
    store = _store(tmp_path)
    (row,), total = store.list_runs()
    assert (total, row.name, row.status, row.recipe) == (1, "from-cli", "completed", "mlp")
    assert row.params["lr"] == 0.3 and row.params["epochs"] == 2
    assert [m["epoch"] for m in store.metric_events(row.id)[0]] == [0, 1]
    assert row.latest["valid"]["accuracy"] > 0.6


def test_run_with_a_callback_reports_who_stopped_it(tmp_path, capsys):
    args = ["run", "mlp", "--callback", "stop_after_iters:n=5", "--data-dir", str(tmp_path)]
    status, out, err = fitboard_here(capsys, *args)
    assert status == 0, err
    assert "reached 5 iterations" in out
    (row,), _ = _store(tmp_path).list_runs()
    assert row.status == "early_stopped"
    assert (row.stop_reason["source"], row.stop_reason["iter"]) == ("stop_after_iters", 5)
    assert [(cb.name, cb.params) for cb in row.callbacks] == [("stop_after_iters", {"n": 5})]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["mlp", "--set", "lr=-1"], "--set lr: Input should be greater than 0"),
        (["mlp", "--set", "optimizer=adam"], "--set optimizer: Extra inputs are not permitted"),
        (["mlp", "--set", "lr"], "--set: expected KEY=VALUE, got 'lr'"),
        (["mlp", "--callback", "early_stopping:patience=-2"], "--callback #1 patience"),
        (["mlp", "--callback", "pickle"], "unknown callback 'pickle'"),
        (["resnet"], "RECIPE: unknown recipe 'resnet'; available: mlp, cnn"),
    ],
)
def test_bad_run_request_is_refused_and_stores_nothing(tmp_path, capsys, args, expected):
    status, _, err = fitboard_here(capsys, "run", *args, "--data-dir", str(tmp_path))
    assert status == 2 and expected in err
    if (tmp_path / "fitboard.db").exists():
        assert _store(tmp_path).list_runs() == ([], 0)


@pytest.mark.slow
def test_bad_run_request_from_a_shell_is_one_clear_line(tmp_path):
    result = fitboard("run", "mlp", "--set", "bs=0", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "fitboard: invalid run:",
        "  --set bs: Input should be greater than or equal to 1",
    ]


@pytest.mark.slow
@pytest.mark.timeout(COMMAND_TIMEOUT)
def test_ctrl_c_stops_the_run_at_the_next_batch(tmp_path):
    proc = _popen("run", "mlp", "--set", "epochs=100", "--set", "bs=8", "--data-dir", str(tmp_path))
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch 1/100"):
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 130
    assert "stopping at the next batch" in rest and "stopped by user at epoch" in rest
    (row,), _ = _store(tmp_path).list_runs()
    assert row.status == "stopped" and row.stop_reason["source"] == "user"
    assert row.stop_reason["epoch"] < 5


# --- db upgrade and settings ----------------------------------------------------------------


def test_db_upgrade_creates_the_schema_at_head(tmp_path):
    result = fitboard("db", "upgrade", "--data-dir", str(tmp_path / "fresh"))
    assert result.returncode == 0, result.stderr
    assert f"is at revision {head()}" in result.stdout
    assert _store(tmp_path / "fresh").list_runs() == ([], 0)


def test_settings_come_from_the_environment_and_are_checked(tmp_path):
    result = fitboard("db", "upgrade", FITBOARD_DATA_DIR=str(tmp_path / "env"))
    assert result.returncode == 0 and (tmp_path / "env" / "fitboard.db").is_file()
    result = fitboard("serve", "--data-dir", str(tmp_path), FITBOARD_PORT="eighty")
    assert (
        result.returncode == 2 and "FITBOARD_PORT: Input should be a valid integer" in result.stderr
    )


def test_serve_refuses_a_public_host_without_a_token(tmp_path):
    result = fitboard("serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "FITBOARD_TOKEN" in result.stderr and "Traceback" not in result.stderr


# --- serve, with a terminal run beside it ---------------------------------------------------


def _wait_healthy(client: httpx.Client, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if client.get("/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("fitboard serve did not answer /api/health within 60 s")


def _wait_status(client: httpx.Client, run_id: str, status: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] == status:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} is {run['status']}, not {status}")


@pytest.mark.slow
@pytest.mark.timeout(3 * COMMAND_TIMEOUT)
def test_serve_shows_terminal_runs_and_keeps_its_own_running(tmp_path):
    port = _free_port()
    # The flag wins over the environment variable.
    proc = _popen("serve", "--port", str(port), "--data-dir", str(tmp_path), FITBOARD_PORT="1")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            _wait_healthy(client, proc)
            created = client.post(
                "/api/runs", json={"recipe": "mlp", "params": {"epochs": 100, "bs": 8}}
            )
            assert created.status_code == 201, created.text
            server_run = created.json()["id"]
            _wait_status(client, server_run, "running")

            result = fitboard("run", "mlp", "--set", "epochs=1", "--data-dir", str(tmp_path))
            assert result.returncode == 0, result.stderr

            runs = client.get("/api/runs").json()["items"]
            assert sorted(run["status"] for run in runs) == ["completed", "running"]
            assert client.post(f"/api/runs/{server_run}/stop").status_code == 202
            assert _wait_status(client, server_run, "stopped")["stop_reason"]["source"] == "user"
    finally:
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()
    assert status == 0

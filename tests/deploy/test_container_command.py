"""The image's exact command line, run outside a container against a real PostgreSQL: the
environment is the Dockerfile's ENV plus what docker-compose.yml gives the `app` service, with
only the database host, the published port and the data volume's path replaced."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

from app.db.migrations import head
from tests.deploy.dockerfiles import ROOT, compose, exec_form, final_stage, image_env

TOKEN = "deploy-test-token-0123456789abcdef"
START_TIMEOUT = 90.0


def _compose_app_env() -> dict[str, str]:
    """The environment docker-compose.yml gives the `app` service, with .env.example's values."""
    result = compose("config", env_file=ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    env = yaml.safe_load(result.stdout)["services"]["app"]["environment"]
    return {key: str(value) for key, value in env.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ContainerProcess:
    """The image's CMD as a process, with the container's environment and working directory."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        stage = final_stage()
        self.command = exec_form(stage, "CMD")
        self.healthcheck = exec_form(stage, "HEALTHCHECK")
        self.port = _free_port()
        venv_bin = str(Path(sys.executable).parent)  # plays the image's /opt/venv/bin
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FITBOARD_")}
        self.env = {
            **clean,
            **image_env(stage),
            **_compose_app_env(),
            "PATH": f"{venv_bin}:{os.environ['PATH']}",
            "FITBOARD_DATA_DIR": str(data_dir),  # the /data volume
            "FITBOARD_PORT": str(self.port),  # 8000 inside a container; any free port here
            "FITBOARD_DATABASE_URL": database_url,  # the `db` service
            "FITBOARD_TOKEN": TOKEN,
        }
        self.data_dir = data_dir
        self.log = data_dir.parent / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        if shutil.which(self.command[0], path=self.env["PATH"]) is None:
            pytest.fail(
                f"{self.command[0]!r} (the image's CMD) is not on PATH: pip install -e .",
                pytrace=False,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        """An HTTP client that carries the token."""
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def start(self) -> httpx.Client:
        """Start the command; once /api/health answers, a client (use it with `with`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.data_dir, stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_TIMEOUT
        with self.client() as probe:
            while not self._healthy(probe):
                assert self.process.poll() is None, f"it exited:\n{self.log.read_text()}"
                assert time.monotonic() < deadline, f"no health:\n{self.log.read_text()}"
                time.sleep(0.2)
        return self.client()

    @staticmethod
    def _healthy(client: httpx.Client) -> bool:
        try:
            return client.get("/api/health").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as `docker stop` sends; the exit status. uvicorn re-raises the signal
        once its graceful shutdown is done, so that status is -SIGTERM, not 0."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"no exit {timeout}s after SIGTERM") from None
        return self.process.returncode


def _wait_until_finished(client: httpx.Client, run_id: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/runs/{run_id}").raise_for_status().json()
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, f"run still {run['status']} after {timeout}s"
        time.sleep(0.25)


def _assert_stopped_gracefully(container: ContainerProcess) -> None:
    status = container.stop()
    log = container.log.read_text()
    assert status in (0, -signal.SIGTERM), log
    assert log.count("Application shutdown complete") == log.count("Application startup complete")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_image_command_trains_a_run_on_postgres_and_keeps_it(
    postgres_database_url: str, tmp_path: Path
):
    container = ContainerProcess(postgres_database_url, tmp_path / "data")
    try:
        with container.start() as client:
            # The image's HEALTHCHECK, as Docker would run it inside the container.
            probe = subprocess.run(container.healthcheck, env=container.env, timeout=30)
            assert probe.returncode == 0
            assert httpx.get(f"{container.url}/api/runs").status_code == 401  # no token

            body = {"recipe": "mlp", "params": {"epochs": 2}, "name": "deployed"}
            created = client.post("/api/runs", json=body)
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]
            run = _wait_until_finished(client, run_id)
            assert run["status"] == "completed", run
            metrics = client.get(f"/api/runs/{run_id}/metrics").raise_for_status().json()
        assert [e["epoch"] for e in metrics["epochs"]] == [0, 1]
    finally:
        _assert_stopped_gracefully(container)

    engine = create_engine(postgres_database_url)
    try:
        with engine.connect() as conn:
            version = text("SELECT version_num FROM fitboard_alembic_version")
            assert conn.execute(version).scalar() == head()
            status = conn.execute(text("SELECT status FROM runs WHERE id = :id"), {"id": run_id})
            assert status.scalar_one() == "completed"
    finally:
        engine.dispose()

    # `docker compose up` again (a new image, a host reboot): the run is still there.
    try:
        with container.start() as client:
            again = client.get(f"/api/runs/{run_id}").raise_for_status().json()
            listed = client.get("/api/runs").raise_for_status().json()
        assert again["status"] == "completed" and again["name"] == "deployed"
        assert again["latest"] == run["latest"]
        assert [item["id"] for item in listed["items"]] == [run_id]
    finally:
        _assert_stopped_gracefully(container)

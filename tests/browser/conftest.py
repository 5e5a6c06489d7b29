"""Browser tests: a real fitboard server (SQLite) and Debian's Chromium through Playwright."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.server import LiveServer

FINISHED = {"completed", "stopped", "early_stopped", "pruned", "failed", "interrupted"}
# bs=2 makes an epoch of digits last about half a second on one thread: long enough to act on
# a running run, short enough that a few epochs pass within a test.
SLOW_PARAMS = {"epochs": 100, "bs": 2, "dataset": "digits"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The browser's behaviour does not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'fitboard.db'}"


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client on the test server, for arranging runs and checking what the page shows."""
    with server.client() as client:
        yield client


def start_run(api: httpx.Client, params: dict[str, Any] | None = None, **body: Any) -> str:
    """Create a run of the default recipe through the API; its id."""
    response = api.post("/api/runs", json={"recipe": "mlp", "params": params or {}, **body})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_for_run(
    api: httpx.Client, run_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    """Poll the API until the run is in one of `statuses`; the run."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = api.get(f"/api/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.1)


def events(api: httpx.Client, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Every saved message of a run (of one type if `kind`), oldest first."""
    found = api.get(f"/api/runs/{run_id}/events", params={"limit": 10_000}).json()
    return [m for m in found if kind is None or m["type"] == kind]


def chart_points(page: Any, chart_id: str) -> int:
    """How many points (before decimation) a chart on the page holds."""
    value = page.get_attribute(f"#{chart_id}", "data-points")
    return int(value or 0)

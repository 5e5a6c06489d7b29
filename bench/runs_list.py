"""Runs list benchmark: `GET /api/runs` with 10,000 runs in the database against 10.

The runs page must load as fast with 10,000 runs as with 10 (it pages: 50 a request). Each
database is filled with finished runs shaped like real ones (params, callbacks, a `latest`
epoch), then a real server (uvicorn, a separate process) answers requests one after another:
the first page, the last page, and the first page filtered by status.

    .venv/bin/python bench/runs_list.py [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import init_db, make_engine
from app.db.models import CallbackRow, RunRow
from bench.service import p99, serve

SIZES = (10, 10_000)
STATUSES = ("completed", "stopped", "early_stopped", "failed")
QUERIES = {
    "first page": "/api/runs",
    "last page": "/api/runs?offset={last}",
    "status filter": "/api/runs?status=early_stopped",
}


def fill(data_dir: str, n: int) -> None:
    """`n` finished runs, each with one callback and a latest epoch, in one transaction."""
    engine = make_engine(f"sqlite:///{data_dir}/fitboard.db")
    init_db(engine)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    latest = {"type": "epoch", "epoch": 2, "elapsed": 1.5, "seq": 7, "time": 0.0}
    latest |= {"train": {"loss": 0.2, "accuracy": 0.94}, "valid": {"loss": 0.18, "accuracy": 0.95}}
    runs, callbacks = [], []
    for i in range(n):
        run_id = f"run{i:08d}"
        created = start + timedelta(seconds=i)
        runs.append(
            {
                "id": run_id,
                "name": f"mlp-{i}",
                "recipe": "mlp",
                "params": {"epochs": 3, "lr": 0.5, "bs": 64, "seed": i, "nh": 50},
                "status": STATUSES[i % len(STATUSES)],
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(seconds=2),
                "latest": latest | {"run_id": run_id},
            }
        )
        callbacks.append(
            {
                "id": f"cb{i:08d}",
                "run_id": run_id,
                "name": "early_stopping",
                "params": {"monitor": "valid_loss", "patience": 3},
                "attached_at": created,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(RunRow), runs)
        connection.execute(insert(CallbackRow), callbacks)
    engine.dispose()


def time_queries(url: str, n: int, requests: int) -> dict[str, list[float]]:
    """Milliseconds per request for each query, requests one after another."""
    times: dict[str, list[float]] = {name: [] for name in QUERIES}
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, path in QUERIES.items():
            path = path.format(last=max(0, n - 50))
            client.get(path).raise_for_status()  # warm-up
            for _ in range(requests):
                start = time.perf_counter()
                response = client.get(path)
                times[name].append(1000 * (time.perf_counter() - start))
                response.raise_for_status()
            assert len(response.json()["items"]) == min(50, n // (4 if "status" in path else 1))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per query and size")
    args = parser.parse_args()
    results: dict[int, dict[str, list[float]]] = {}
    for n in SIZES:
        data_dir = tempfile.mkdtemp(prefix="fitboard-bench-list-")
        fill(data_dir, n)
        with serve(workers=1, data_dir=data_dir) as url:
            results[n] = time_queries(url, n, args.requests)
    small, large = SIZES
    print(f"GET /api/runs, {args.requests} requests each, one after another (ms)")
    print(f"{'query':<16}{'runs':>8}{'median':>9}{'p99':>9}")
    for name in QUERIES:
        for n in SIZES:
            ms = results[n][name]
            print(f"{name:<16}{n:>8}{statistics.median(ms):>9.2f}{p99(ms):>9.2f}")
        ratio = statistics.median(results[large][name]) / statistics.median(results[small][name])
        print(f"{'':<16}ratio of medians, {large} / {small} runs: {ratio:.2f}")
    print("target: every p99 <= 100 ms (the API latency target of the service issue)")


if __name__ == "__main__":
    main()

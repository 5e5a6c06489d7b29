"""Runs list benchmark: `GET /api/runs` with 10,000 runs in the database against 10.

The runs page must load as fast with 10,000 runs as with 10 (it pages). Each
database is filled with finished runs shaped like real ones (params, callbacks, a `latest`
epoch, tags), then a real server (uvicorn, a separate process) answers requests one after
another: the first page, the first page filtered by status, sorted by name, the last page
(a keyset page: `last=true`), a search (`q`, which reads every row: shown, not a target) and
the last page by OFFSET (the old paging, for comparison).

    .venv/bin/python bench/runs_list.py [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
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
# Pages of 10 runs, so that each page holds as many rows with 10,000 runs as with 10 (the
# status filter: 2 of the 10, against 10 of 10,000) and the ratio is the table's size alone.
PAGE = 10
QUERIES = {
    "first page": "/api/runs?limit={page}",
    "status filter": "/api/runs?limit={page}&status=early_stopped",
    "sorted by name": "/api/runs?limit={page}&sort=name&order=asc",
    "last page": "/api/runs?limit={page}&last=true",
    "search (scan)": "/api/runs?limit={page}&q=mlp-1",
    "offset last page": "/api/runs?limit={page}&offset={last}",
}
TARGETED = ("first page", "status filter", "sorted by name", "last page")
TARGET_RATIO = 1.5


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
                "tags": ["baseline"] if i % 10 == 0 else [],
                "duration": 2.0 + (i % 7),
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


def time_queries(urls: dict[int, str], requests: int) -> dict[int, dict[str, list[float]]]:
    """Milliseconds per request for each query and size. The sizes' servers take turns, one
    request each, so that a busy moment of a shared machine slows both alike."""
    times: dict[int, dict[str, list[float]]] = {n: {name: [] for name in QUERIES} for n in urls}
    clients = {n: httpx.Client(base_url=url, timeout=30) for n, url in urls.items()}
    try:
        for name, template in QUERIES.items():
            paths = {n: template.format(page=PAGE, last=max(0, n - PAGE)) for n in urls}
            for n, client in clients.items():
                client.get(paths[n]).raise_for_status()  # warm-up
            for _ in range(requests):
                for n, client in clients.items():
                    start = time.perf_counter()
                    response = client.get(paths[n])
                    times[n][name].append(1000 * (time.perf_counter() - start))
                    response.raise_for_status()
                    if "q=" not in template:
                        expected = min(PAGE, n // (4 if "status" in template else 1))
                        assert len(response.json()["items"]) == expected
    finally:
        for client in clients.values():
            client.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per query and size")
    args = parser.parse_args()
    data_dirs = {n: tempfile.mkdtemp(prefix="fitboard-bench-list-") for n in SIZES}
    for n, data_dir in data_dirs.items():
        fill(data_dir, n)
    with ExitStack() as stack:
        urls = {n: stack.enter_context(serve(workers=1, data_dir=d)) for n, d in data_dirs.items()}
        results = time_queries(urls, args.requests)
    small, large = SIZES
    print(f"GET /api/runs, {args.requests} requests each, the two servers in turn (ms)")
    print(f"{'query':<16}{'runs':>8}{'median':>9}{'p99':>9}")
    for name in QUERIES:
        for n in SIZES:
            ms = results[n][name]
            print(f"{name:<16}{n:>8}{statistics.median(ms):>9.2f}{p99(ms):>9.2f}")
        ratio = statistics.median(results[large][name]) / statistics.median(results[small][name])
        verdict = ""
        if name in TARGETED:
            verdict = "  ok" if ratio <= TARGET_RATIO else f"  over {TARGET_RATIO}x"
        print(f"{'':<16}ratio of medians, {large} / {small} runs: {ratio:.2f}{verdict}")
    print(f"target: {', '.join(TARGETED)}: ratio <= {TARGET_RATIO}; every p99 <= 100 ms")


if __name__ == "__main__":
    main()

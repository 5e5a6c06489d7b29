"""Live control latency: from the request to its effect in the run, for pause, an lr edit,
evaluate-now and a fork's snapshot, against a real server (`uvicorn`, its own process), next
to the run's own batch time measured in the same run.

    .venv/bin/python bench/control.py [--trials 20] [--backend threads|ray]

Each trial starts a run, waits for its second epoch, then at a random moment sends the
request and times it to the message that says it took effect: `paused` status (pause),
`hyper` (PATCH /hypers), `evaluation` (POST /evaluate), the parent's `fork` (POST /fork: its
snapshot is written). Target: p99 <= one batch + 50 ms.
Figures are medians and p99 (nearest rank); these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service import batch_ms, p99, serve, ws_url  # the same server and figures

BS = 64
Request = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]

ACTIONS: dict[str, tuple[Request, Callable[[dict], bool]]] = {
    "pause": (
        lambda c, r: c.post(f"/api/runs/{r}/pause"),
        lambda m: m["type"] == "status" and m["status"] == "paused",
    ),
    "lr edit": (
        lambda c, r: c.patch(f"/api/runs/{r}/hypers", json={"lr": 0.05}),
        lambda m: m["type"] == "hyper",
    ),
    "evaluate": (
        lambda c, r: c.post(f"/api/runs/{r}/evaluate"),
        lambda m: m["type"] == "evaluation",
    ),
    "fork": (
        lambda c, r: c.post(f"/api/runs/{r}/fork", json={}),
        lambda m: m["type"] == "fork",
    ),
}


async def one_trial(url: str, request: Request, took_effect: Callable[[dict], bool]) -> tuple:
    """(ms from request to its message, ms per loop step of that run)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        # digits: batch_ms counts its batches (the default dataset is 9x larger)
        body = {"recipe": "mlp", "params": {"epochs": 100, "bs": BS, "dataset": "digits"}}
        run_id = (await client.post("/api/runs", json=body)).raise_for_status().json()["id"]
        async with websockets.connect(ws_url(url, f"/ws/runs/{run_id}")) as ws:
            elapsed = []
            while len(elapsed) < 2:
                message = json.loads(await ws.recv())
                if message["type"] == "epoch":
                    elapsed.append(message["elapsed"])
            await asyncio.sleep(random.uniform(0, 0.2))
            started = time.perf_counter()
            response = (await request(client, run_id)).raise_for_status()
            while not took_effect(json.loads(await ws.recv())):
                pass
            latency = 1000 * (time.perf_counter() - started)
        made = response.json().get("id") if response.status_code == 201 else None
        for created in filter(None, [made, run_id]):  # a fork is a run of its own: queued
            await client.post(f"/api/runs/{created}/stop")
    return latency, batch_ms(BS, elapsed[1] - elapsed[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="requests to time per action")
    parser.add_argument("--backend", choices=["threads", "ray"], default="threads")
    args = parser.parse_args()
    with serve(workers=1, backend=args.backend) as url:
        with httpx.Client(base_url=url, timeout=60) as client:  # warm-up: digits, imports
            run_id = client.post("/api/runs", json={"recipe": "mlp"}).json()["id"]
            while client.get(f"/api/runs/{run_id}").json()["status"] != "completed":
                time.sleep(0.1)
        print(f"FITBOARD_BACKEND={args.backend}, {args.trials} trials each, bs={BS}")
        for name, (request, took_effect) in ACTIONS.items():
            trials = range(args.trials)
            results = [asyncio.run(one_trial(url, request, took_effect)) for _ in trials]
            latencies = [r[0] for r in results]
            step = statistics.median(r[1] for r in results)
            print(
                f"  {name:9} request -> effect: median {statistics.median(latencies):6.1f} ms, "
                f"p99 {p99(latencies):6.1f} ms   (one loop step = {step:.1f} ms; "
                f"target p99 <= {step + 50:.1f} ms)"
            )


if __name__ == "__main__":
    main()

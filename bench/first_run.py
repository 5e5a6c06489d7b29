"""First-run benchmark: the default recipe as a new user starts it, from the click to the end.

A real server (uvicorn, a separate process) gets `POST /api/runs {"recipe": "mlp"}` with no
parameters, as the launch form sends its defaults; a WebSocket on the run records when the
first `batch` message (the first chart point), the first `epoch` message and the final
status arrive. The baseline, measured in the same run, is the old default (digits, 3 epochs).

    .venv/bin/python bench/first_run.py [--trials 3]

Targets (issue 11): the first chart point within 2 s of Start; the run lasts 20-40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service import serve, ws_url

FINISHED = {"completed", "stopped", "early_stopped", "failed", "interrupted"}
CASES: dict[str, dict[str, Any]] = {
    "default (no params)": {},
    "old default: digits, 3 epochs, bs 64, lr 0.5": {
        "dataset": "digits",
        "epochs": 3,
        "bs": 64,
        "lr": 0.5,
    },
}


async def one_run(url: str, params: dict[str, Any]) -> dict[str, float]:
    """Seconds from the POST to the first batch, the first epoch and the final status."""
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        start = time.perf_counter()
        response = await client.post("/api/runs", json={"recipe": "mlp", "params": params})
        response.raise_for_status()
        run_id = response.json()["id"]
        async with websockets.connect(ws_url(url, f"/ws/runs/{run_id}")) as ws:
            while True:
                message = json.loads(await ws.recv())
                now = time.perf_counter() - start
                if message["type"] in ("batch", "epoch"):
                    seen.setdefault(f"first {message['type']}", now)
                if message["type"] == "status" and message["status"] in FINISHED:
                    seen["finished"] = now
                    seen["epochs"] = float(message.get("epoch") or 0)
                    break
        seen["epochs"] = float(
            len((await client.get(f"/api/runs/{run_id}/metrics")).json()["epochs"])
        )
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="runs per case, one at a time")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    with serve(workers=1) as url:
        for name, params in CASES.items():
            results[name] = [asyncio.run(one_run(url, params)) for _ in range(args.trials)]
    print(f"mlp from POST /api/runs, {args.trials} runs each, one at a time (s, medians)")
    print(f"{'case':<46}{'1st batch':>10}{'1st epoch':>10}{'finished':>10}{'epochs':>8}")
    for name, runs in results.items():
        med = {
            key: statistics.median(run.get(key, float("nan")) for run in runs) for key in runs[0]
        }
        print(
            f"{name:<46}{med.get('first batch', float('nan')):>10.2f}"
            f"{med['first epoch']:>10.2f}{med['finished']:>10.2f}{med['epochs']:>8.0f}"
        )
    cold = next(iter(results.values()))[0]
    print(
        f"the server's very first run (cold, right after start): first batch "
        f"{cold.get('first batch', float('nan')):.2f} s, first epoch {cold['first epoch']:.2f} s"
    )
    default, old = (statistics.median(r["finished"] for r in runs) for runs in results.values())
    print(f"ratio of run lengths, default / old default: {default / old:.1f}")
    print("target: first batch <= 2 s; default run 20-40 s")


if __name__ == "__main__":
    main()

"""What reporting to a dashboard costs a script, and how fast the dashboard's Stop reaches it.

The notebook's model (784-50-10 MLP, SGD lr 0.5, bs 64) on synthetic MNIST-shaped data, in
this process, against a real server (uvicorn, its own process):

1. overhead: a `Runner` with `DashboardCallback(url)` against the same Runner without it,
   interleaved; medians of wall time and of the training thread's CPU time, and their ratio
   (target <= 1.02);
2. stop latency: `POST /api/runs/{id}/stop` sent at a random moment, to the fit's loop
   ending (`after_fit`); p50 and p99 against one batch's time (target p99 <= one batch +
   100 ms);
3. the overhead again with 100 clients watching the run's `WS /ws/runs/{id}` (from a
   process of their own: the script's process serves none of them).

On a machine of few cores the server and the watchers would take the script's core, so
what the figures measure would be the machine's size, not the client. So, as when the
script trains on a machine of its own, the script is held to one CPU and the server and the
watchers to the others (`--no-pin` lets them share; `--pin-cpu` picks the script's CPU). Both
arms of every ratio run under the same hold.

    .venv/bin/python bench/remote.py [--runs 11] [--stops 20] [--watchers 100] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from service import p99, pinned_to, serve  # noqa: E402

from trainer import (  # noqa: E402
    AvgStatsCallback,
    Callback,
    DashboardCallback,
    DataBunch,
    Learner,
    Runner,
    accuracy,
    get_model,
    make_synthetic,
    set_threads,
)

Timing = tuple[float, float]  # (wall seconds, training thread CPU seconds)


class EndTime(Callback):
    """Notes when the loop ended (`after_fit`) and how long training batches take."""

    def begin_fit(self) -> None:
        self.batch_times: list[float] = []
        self._last = time.perf_counter()

    def after_batch(self) -> None:
        if self.run.in_train:
            now = time.perf_counter()
            self.batch_times.append(now - self._last)
            self._last = now

    def after_fit(self) -> None:
        self.ended = time.perf_counter()


def fit(
    arrays: tuple[torch.Tensor, ...], epochs: int, cbs: list[Any], seed: int = 0
) -> tuple[Timing, Runner]:
    data = DataBunch.from_arrays(*arrays, 64, c=10, seed=seed)
    torch.manual_seed(seed)
    learn = Learner(*get_model(data, lr=0.5), F.cross_entropy, data)
    run = Runner(cbs=cbs, cb_funcs=[partial(AvgStatsCallback, [accuracy], verbose=False)])
    wall, cpu = time.perf_counter(), time.thread_time()
    run.fit(epochs, learn)
    timing = (time.perf_counter() - wall, time.thread_time() - cpu)
    for cb in cbs:  # the last messages go up after the fit: not into the next fit's time
        if isinstance(cb, DashboardCallback):
            cb.wait_delivered()
    return timing, run


def overhead(
    args: argparse.Namespace, arrays: tuple[torch.Tensor, ...], url: str, label: str
) -> None:
    """Interleaved fits with and without the dashboard; medians and their ratios."""
    plain: list[Timing] = []
    reported: list[Timing] = []
    for i in range(args.runs):
        order: list[Callable[[], None]] = [
            lambda: plain.append(fit(arrays, args.epochs, [])[0]),
            lambda: reported.append(
                fit(arrays, args.epochs, [DashboardCallback(url, name="bench")])[0]
            ),
        ]
        for step in order if i % 2 == 0 else reversed(order):
            step()
    for what, index in (("wall", 0), ("thread CPU", 1)):
        base = statistics.median(t[index] for t in plain)
        with_cb = statistics.median(t[index] for t in reported)
        # Each pair ran back to back: its ratio cancels the machine's drift between pairs,
        # which on a shared machine is larger than the cost measured.
        pairs = zip(plain, reported, strict=True)
        paired = statistics.median(r[index] / p[index] for p, r in pairs)
        print(
            f"{label} {what}: without {base:.3f} s, with DashboardCallback {with_cb:.3f} s, "
            f"ratio of medians {with_cb / base:.3f}, median paired ratio {paired:.3f} "
            f"(target <= 1.02; {args.runs} pairs)"
        )


def stop_latency(args: argparse.Namespace, arrays: tuple[torch.Tensor, ...], url: str) -> None:
    """Stop sent at a random moment to the loop ending, over `args.stops` fits."""
    latencies, batches = [], []
    client = httpx.Client(base_url=url, timeout=30)
    for _ in range(args.stops):
        dashboard, end = DashboardCallback(url, name="bench-stop"), EndTime()
        sent: list[float] = []

        def stop_later(dashboard: DashboardCallback = dashboard, sent: list[float] = sent) -> None:
            while dashboard.run_id is None:
                time.sleep(0.01)
            time.sleep(random.uniform(0.3, 1.0))
            sent.append(time.perf_counter())
            client.post(f"/api/runs/{dashboard.run_id}/stop").raise_for_status()

        stopper = threading.Thread(target=stop_later, daemon=True)
        stopper.start()
        _, run = fit(arrays, 1000, [dashboard, end])
        stopper.join()
        assert run.stop_reason is not None and run.stop_reason.source == "user"
        latencies.append(end.ended - sent[0])
        batches.append(statistics.median(end.batch_times))
    batch = statistics.median(batches)
    print(
        f"stop latency: p50 {statistics.median(latencies) * 1e3:.1f} ms, "
        f"p99 {p99(latencies) * 1e3:.1f} ms; one batch {batch * 1e3:.2f} ms "
        f"(target p99 <= one batch + 100 ms = {(batch + 0.1) * 1e3:.1f} ms; {args.stops} stops)"
    )


def watch(url: str, clients: int) -> None:
    """`--watch`: keep `clients` WebSockets on the newest running run, whichever it is."""
    import websockets

    async def follow(run_id: str) -> None:
        async with websockets.connect(f"ws{url[4:]}/ws/runs/{run_id}") as ws:
            async for _ in ws:
                pass

    async def main() -> None:
        current, tasks = None, []
        async with httpx.AsyncClient(base_url=url) as client:
            while True:
                page = (await client.get("/api/runs", params={"status": "running"})).json()
                newest = page["items"][0]["id"] if page["items"] else None
                if newest is not None and newest != current:
                    for task in tasks:
                        task.cancel()
                    current = newest
                    tasks = [asyncio.create_task(follow(newest)) for _ in range(clients)]
                await asyncio.sleep(0.05)

    asyncio.run(main())


def cpu_split(pin_cpu: int, share: bool = False) -> tuple[set[int], set[int]] | None:
    """The script's CPU (`pin_cpu`) and everyone else's, or None when they share (`share`,
    or a single CPU)."""
    available = os.sched_getaffinity(0)
    if share or len(available) < 2:
        return None
    if pin_cpu not in available:
        raise SystemExit(f"--pin-cpu {pin_cpu}: not one of this process's CPUs {available}")
    return {pin_cpu}, available - {pin_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--stops", type=int, default=20)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--no-pin", action="store_true", help="let everything share the CPUs")
    parser.add_argument("--pin-cpu", type=int, default=0, help="the script's CPU")
    parser.add_argument("--watch", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch(args.watch, args.watchers)
        return
    split = cpu_split(args.pin_cpu, share=args.no_pin)
    others = None
    if split is not None:
        script, others = split
        os.sched_setaffinity(0, script)  # before any thread starts: they all inherit it
        print(f"script on CPU {sorted(script)}; server and watchers on CPUs {sorted(others)}")
    set_threads(1)
    arrays = make_synthetic(args.n_train, args.n_train // 5)
    with serve(workers=1, cpus=others) as url:
        fit(arrays, 1, [DashboardCallback(url, name="warm-up")])  # imports, first connection
        overhead(args, arrays, url, "overhead")
        stop_latency(args, arrays, url)
        watchers = subprocess.Popen(
            [sys.executable, __file__, "--watch", url, "--watchers", str(args.watchers)],
            preexec_fn=pinned_to(others),
        )
        try:
            time.sleep(2.0)
            overhead(args, arrays, url, f"overhead, {args.watchers} watchers")
        finally:
            watchers.kill()
            watchers.wait(30)


if __name__ == "__main__":
    main()

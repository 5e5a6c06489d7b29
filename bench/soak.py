"""Soak test: a real `fitboard serve` under steady load for minutes, sampled for leaks.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 50] [--runs 2] [--epochs 5]
        [--rest-rate 20]

It keeps `--runs` runs training (one that ends is replaced), `--clients` WebSockets churning
(each reads a run's stream or the all-runs one for 1-10 s, closes and reconnects, half the
time resuming with `?after_seq=`) and a REST client busy at `--rest-rate` requests/s. Every
`--sample-seconds` it prints the server's RSS, open fds and threads, and at the end each
one's least-squares slope per minute after the warm-up, with a verdict. Errors: a 5xx or a
failed request, a WebSocket closed other than 1000/1001/1012/4001, a run's seq repeated, a
failed run, a "Traceback" or "ERROR" line in the server's output. Exit code 1 if there is an
error or a metric grows, else 0. The server is killed at the end, always.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
OK_CLOSE = {1000, 1001, 1012, 4001}  # normal, going away, restarting, resume (docs/api.md)
# Growth per minute above which a metric is called "GROWS": a leak of one fd or a few MiB a
# minute is what a day-long server cannot afford; below that is allocator and GC noise.
THRESHOLDS = {"RSS MiB": 2.0, "fds": 1.0, "threads": 0.5}  # fds: less established sockets
KINDS = ("http", "ws", "seq", "run", "soak", "server")  # of errors, in report order
SHOWN = 5  # example lines printed per kind of error


class Soak:
    """What the load tasks share: the server's URL, the live runs, counters and errors."""

    def __init__(self, url: str, seconds: float, rest_rate: float) -> None:
        self.url, self.started = url, time.monotonic()
        self.deadline = self.started + seconds
        self.interval, self.next_request = 1 / rest_rate, 0.0
        self.live: list[str] = []
        self.counts: Counter[str] = Counter()
        self.errors: dict[str, list[str]] = {}
        self.client = httpx.AsyncClient(base_url=url, timeout=30)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def error(self, kind: str, line: str) -> None:
        self.errors.setdefault(kind, []).append(line)

    async def request(self, method: str, path: str, paced: bool = True, **kw: Any) -> Any:
        """One request, counted; None if it failed. Paced requests share the REST budget."""
        if paced:  # a token schedule, so bursts (attach + detach) still average the rate
            self.next_request = max(self.next_request, time.monotonic()) + self.interval
            await asyncio.sleep(self.next_request - time.monotonic())
        try:
            response = await self.client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.error("http", f"{method} {path}: {exc!r}")
            return None
        self.counts["requests"] += 1
        if response.status_code >= 500:
            self.error("http", f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response


def run_params(recipes: list[dict[str, Any]], epochs: int) -> dict[str, Any]:
    """mlp on synthetic data for `epochs` (at most the recipe's bound). Runs that end within
    the soak are replaced, so creating and finishing runs is soaked too, and the history a
    reader replays stays the size of one run: growth that follows one ever-longer history is
    data, not a leak, and would hide one."""
    schema = next(r for r in recipes if r["name"] == "mlp")["params_schema"]["properties"]
    return {"dataset": "synthetic", "epochs": min(epochs, schema["epochs"]["maximum"])}


async def top_up(soak: Soak, params: dict[str, Any], runs: int) -> None:
    """Queue runs until `runs` are live (a refusal or a 5xx: try again next time)."""
    while len(soak.live) < runs:
        body = {"recipe": "mlp", "params": params}
        response = await soak.request("POST", "/api/runs", paced=False, json=body)
        if response is None or not response.is_success:
            return
        soak.live.append(response.json()["id"])


async def keep_runs(soak: Soak, params: dict[str, Any], runs: int) -> None:
    """Replace every run that ended, once a second, so `runs` are always training."""
    while soak.left() > 0:
        for run_id in list(soak.live):
            response = await soak.request("GET", f"/api/runs/{run_id}", paced=False)
            run = response.json() if response is not None and response.is_success else {}
            if run.get("status", "running") not in ("queued", "running"):
                soak.live.remove(run_id)
                soak.counts[f"runs {run['status']}"] += 1
                if run["status"] == "failed":
                    soak.error("run", f"run {run_id} failed: {run['error']}")
        await top_up(soak, params, runs)
        await asyncio.sleep(min(1.0, max(soak.left(), 0)))


async def rest_load(soak: Soak, rng: random.Random) -> None:
    """Reads of every kind, plus attaching and detaching a callback, at the REST rate."""
    while soak.left() > 0:
        if not soak.live:
            await asyncio.sleep(0.5)
            continue
        run = f"/api/runs/{rng.choice(soak.live)}"
        reads = ["/api/runs", run, f"{run}/metrics", f"{run}/events?after_seq={rng.randrange(50)}"]
        if rng.random() < 0.8:
            await soak.request("GET", rng.choice(reads))
            continue
        body = {"name": "time_limit", "params": {"seconds": 3600}}
        attached = await soak.request("POST", f"{run}/callbacks", json=body)
        if attached is not None and attached.status_code == 201:  # 409: the run just ended
            await soak.request("DELETE", f"{run}/callbacks/{attached.json()['id']}")


async def read_for(soak: Soak, path: str, seconds: float, after: int | None) -> int | None:
    """Read `path` for `seconds`, checking that a run's seqs increase from `after`; the last
    seq seen, for the next resume."""
    last = after
    try:
        url = soak.url.replace("http://", "ws://") + path
        async with websockets.connect(url, open_timeout=30, close_timeout=10) as ws:
            soak.counts["ws connects"] += 1
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    break
                soak.counts["ws messages"] += 1
                seq = message.get("seq")
                # A live stream may skip a `batch` seq (docs/api.md), never repeat one.
                if path.startswith("/ws/runs/") and seq is not None:
                    if last is not None and seq <= last:
                        soak.error("seq", f"{path}: seq {seq} after {last}")
                    last = seq
    except websockets.ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else 1006
        if code not in OK_CLOSE:
            soak.error("ws", f"{path}: closed {code} {exc.rcvd.reason if exc.rcvd else ''}")
        if code == 4001:  # the server says which seq to resume from
            found = re.search(r"after_seq=(\d+)", exc.rcvd.reason if exc.rcvd else "")
            last = int(found.group(1)) if found else last
    except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake) as exc:
        soak.error("ws", f"{path}: {exc!r}")
    return last


async def churn(soak: Soak, rng: random.Random) -> None:
    """One WebSocket client: connect, read 1-10 s, close, reconnect, until the end."""
    await asyncio.sleep(rng.uniform(0, 2))  # stagger the first handshakes
    run_id, last = None, None
    while (left := soak.left()) > 0:
        resume = run_id is not None and last is not None and rng.random() < 0.5
        if not resume:
            run_id = rng.choice(soak.live) if soak.live and rng.random() < 0.8 else None
            last = None
        path = f"/ws/runs/{run_id}" if run_id else "/ws/runs"
        if resume:
            path += f"?after_seq={last}"
        seen = await read_for(soak, path, min(rng.uniform(1, 10), left), last)
        last = seen if run_id else None
        await asyncio.sleep(min(rng.uniform(0.05, 0.5), max(soak.left(), 0)))


def sample(soak: Soak, process: psutil.Process) -> tuple[float, float, int, int]:
    """(minutes, RSS MiB, fds other than established connections, threads), printed as a row.
    The clients' open sockets come and go by the second: counted in, they would drown a leak
    of one fd a minute; a leaked socket is not established, so it still counts."""
    minute = (time.monotonic() - soak.started) / 60
    fds, conns = process.num_fds(), process.net_connections("tcp")
    established = sum(c.status == psutil.CONN_ESTABLISHED for c in conns)
    row = (minute, process.memory_info().rss / 2**20, fds - established, process.num_threads())
    c, errors = soak.counts, sum(len(lines) for lines in soak.errors.values())
    print(f"{minute:6.2f} {row[1]:9.1f} {fds:5d} {established:5d} {row[3]:7d} "
          f"{c['requests']:8d} {c['ws connects']:8d} {c['ws messages']:9d} {errors:6d}",
          flush=True)  # fmt: skip
    return row


async def sampler(soak: Soak, process: psutil.Process, every: float, rows: list) -> None:
    """A sample now (after the warm-up), then every `every` seconds and one at the end."""
    print("minute  RSS(MiB)   fds conns threads requests ws-conns   ws-msgs errors")
    while True:
        try:
            rows.append(sample(soak, process))
        except psutil.Error as exc:  # the server died: end the soak now
            soak.error("soak", f"sampling the server failed: {exc!r}")
            soak.deadline = time.monotonic()
            return
        if soak.left() <= 0:
            return
        await asyncio.sleep(min(every, soak.left()))


def start_server(data_dir: str, workers: int, log: Any) -> tuple[subprocess.Popen, str]:
    """`fitboard serve` on a free loopback port, its output in `log`; waits for /api/health."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--data-dir", data_dir]
    command += ["--log-level", "warning"]  # no access log: 50 requests/s would drown errors
    env = {k: v for k, v in os.environ.items() if k != "FITBOARD_TOKEN"}
    env |= {"FITBOARD_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{url}/api/health", timeout=2).raise_for_status()
            return process, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                message = f"soak: the server did not start; its output is in {log.name}"
                raise SystemExit(message) from None
            time.sleep(0.3)


async def warm_up(soak: Soak, params: dict[str, Any], runs: int) -> None:
    """Queue the first runs and wait for each one's first epoch: the first runs in a process
    load torch's kernels and build their data, hundreds of MiB that are no leak."""
    await top_up(soak, params, runs)
    pending = list(soak.live)
    while pending and soak.left() > 0:
        await asyncio.sleep(0.5)
        for run_id in list(pending):
            response = await soak.request("GET", f"/api/runs/{run_id}", paced=False)
            run = response.json() if response is not None and response.is_success else {}
            if run.get("latest") or run.get("status") not in (None, "queued", "running"):
                pending.remove(run_id)


async def soak_server(url: str, pid: int, args: argparse.Namespace) -> tuple[Soak, list]:
    """Start the runs, wait until they train (the warm-up), then run every load task."""
    rng = random.Random(0)
    soak = Soak(url, 600, args.rest_rate)  # the warm-up's own bound, reset below
    params = run_params((await soak.client.get("/api/recipes")).json(), args.epochs)
    await warm_up(soak, params, args.runs)
    print(f"warm-up {600 - soak.left():.0f} s: {args.runs} runs of mlp {params} training")
    soak.started, soak.deadline = time.monotonic(), time.monotonic() + args.minutes * 60
    rows: list = []
    tasks = [sampler(soak, psutil.Process(pid), args.sample_seconds, rows)]
    tasks += [keep_runs(soak, params, args.runs), rest_load(soak, random.Random(1))]
    tasks += [churn(soak, random.Random(rng.random())) for _ in range(args.clients)]
    try:  # every loop ends at the deadline; this bound is for a hang the loops cannot see
        await asyncio.wait_for(asyncio.gather(*tasks), args.minutes * 60 + 120)
    except asyncio.TimeoutError:
        soak.error("soak", "the load tasks hung past the deadline")
    await soak.client.aclose()
    return soak, rows


def server_errors(text: str) -> list[str]:
    """ "ERROR" lines, and each traceback as its log message and its exception line."""
    lines, found = text.splitlines(), []
    for i, line in enumerate(lines):
        if "ERROR" in line:
            found.append(line)
        elif line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if not lines[j][:1].isspace()), i)
            found.append(f"{lines[i - 1] if i else ''} | {lines[end]}")
    return found


def report(soak: Soak, rows: list, log_text: str, warmup: float) -> tuple[bool, str]:
    """Print slopes, verdicts and errors; (passed, the verdicts in a few words)."""
    fit = [row for row in rows if row[0] >= warmup] or rows
    print(f"\nafter the warm-up ({warmup:.2f} min, excluded): {len(fit)} samples")
    verdicts = []
    for index, name in enumerate(THRESHOLDS, start=1):
        minutes, values = [row[0] for row in fit], [row[index] for row in fit]
        rate = statistics.linear_regression(minutes, values).slope if len(fit) > 1 else 0.0
        verdict = "GROWS" if rate >= THRESHOLDS[name] else "flat"
        print(f"  {name:7} slope {rate:+8.2f}/min   (flat below {THRESHOLDS[name]}/min): {verdict}")
        verdicts.append(f"{name} {verdict}")
    print(f"  median RSS {statistics.median(row[1] for row in fit):.1f} MiB")
    print("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(soak.counts.items())))
    soak.errors["server"] = server_errors(log_text) + soak.errors.get("server", [])
    for kind in KINDS:
        lines = soak.errors.get(kind, [])
        print(f"errors, {kind}: {len(lines)}")
        for line in lines[:SHOWN]:
            print(f"  {line}")
    errors = sum(len(lines) for lines in soak.errors.values())
    passed = errors == 0 and not any("GROWS" in v for v in verdicts)
    return passed, f"{', '.join(verdicts)}; {errors} errors"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[2].replace("\n", " "),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    options = {  # name: type, default, bounds, help
        "minutes": (float, 10, (0.1, 120), "soak length"),
        "clients": (int, 50, (0, 500), "WebSocket clients churning"),
        "runs": (int, 2, (1, 8), "runs kept training (the server's workers)"),
        "epochs": (int, 5, (1, 100), "epochs of each run (an ended run is replaced)"),
        "rest_rate": (float, 20, (0.1, 50), "REST requests per second, at most"),
        "sample_seconds": (float, 60, (1, 600), "seconds between samples of the server"),
        # Runs that turn over every minute or so take minutes to bring the allocator's arenas
        # to their steady size: slopes are fitted after that (0: a quarter of the soak).
        "warmup_minutes": (float, 0, (0, 60), "minutes of samples left out of the slopes"),
    }
    for name, (kind, default, (low, high), text) in options.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=kind, default=default, help=f"{text}, {low}-{high}")
    args = parser.parse_args()
    for name, (_, _, (low, high), _) in options.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be within {low}-{high}")
    return args


def main() -> int:
    args = parse_args()
    print("$ python " + shlex.join(sys.argv))
    data_dir = tempfile.mkdtemp(prefix="fitboard-soak-")
    log_path = Path(data_dir) / "server.log"
    with log_path.open("wb") as log:
        process, url = start_server(data_dir, args.runs, log)
        print(f"server pid {process.pid} on {url}, data in {data_dir}", flush=True)
        try:
            soak, rows = asyncio.run(soak_server(url, process.pid, args))
        finally:
            if process.poll() is not None:  # it should outlive the load
                print(f"soak: the server exited early with code {process.returncode}")
            process.terminate()  # SIGTERM: a clean shutdown, whose errors we want to see
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.returncode not in (0, -15):
        soak.error("server", f"the server exited with code {process.returncode}")
    passed, verdicts = report(
        soak, rows, log_path.read_text(errors="replace"), args.warmup_minutes or args.minutes / 4
    )
    if passed:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"server output kept in {log_path}")
    c = soak.counts
    print(f"soak {args.minutes:g} min, {args.runs} runs, {args.clients} clients, "
          f"{args.rest_rate:g} req/s: {c['requests']} requests, {c['ws connects']} WebSocket "
          f"sessions; {verdicts}: {'PASS' if passed else 'FAIL'}")  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""How much another CPU's load slows a fit held to one CPU: the floor under bench/remote.py.

bench/remote.py holds the script to one CPU and the server to the others, so the server's
work for `DashboardCallback` never takes the script's CPU. It can still slow it: the CPUs
share caches, memory and, on a virtual machine, whatever the host does to run them. This
bench measures that alone, with no fitboard code in the loop: bench/remote.py's fit (the
notebook's model on synthetic MNIST-shaped data, one torch thread) on one CPU, while the
other CPUs are

- idle (the baseline);
- busy with a pure Python loop in another process;
- woken ten times a second for a millisecond of Python each (the shape of a server that
  takes ten report frames a second and saves them).

Arms are interleaved; each figure is the median wall time and the median of the ratios of
the fits run back to back with the idle one. A ratio above 1 for the loaded arms is a cost
that bench/remote.py's "with DashboardCallback" arm pays and its plain arm does not.

    .venv/bin/python bench/cpu_interference.py [--runs 11] [--epochs 5] [--pin-cpu 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from remote import cpu_split, fit  # noqa: E402
from service import pinned_to  # noqa: E402

from trainer import make_synthetic, set_threads  # noqa: E402

# What runs on the other CPUs in each arm (None: nothing).
LOADS: dict[str, str | None] = {
    "idle": None,
    "busy Python": "while True: pass",
    "10 wake-ups/s x 1 ms": (
        "import time\n"
        "while True:\n"
        "    end = time.thread_time() + 0.001\n"
        "    while time.thread_time() < end: pass\n"
        "    time.sleep(0.099)\n"
    ),
}


def timed_fit(arrays: tuple, epochs: int, load: str | None, cpus: set[int]) -> float:
    """Wall seconds of one fit while `load` runs on `cpus` in a process of its own."""
    loader = None
    if load is not None:
        loader = subprocess.Popen([sys.executable, "-c", load], preexec_fn=pinned_to(cpus))
        time.sleep(0.3)  # started and running before the fit is timed
    try:
        (wall, _cpu), _run = fit(arrays, epochs, [])
    finally:
        if loader is not None:
            loader.kill()
            loader.wait()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--pin-cpu", type=int, default=0, help="the fit's CPU")
    args = parser.parse_args()
    split = cpu_split(args.pin_cpu)
    if split is None:
        cpus = sorted(os.sched_getaffinity(0))
        raise SystemExit(f"needs a CPU besides the fit's; this process has {cpus}")
    fit_cpu, others = split
    os.sched_setaffinity(0, fit_cpu)
    print(f"fit on CPU {args.pin_cpu}; loads on CPUs {sorted(others)}")
    set_threads(1)
    arrays = make_synthetic(args.n_train, args.n_train // 5)
    fit(arrays, 1, [])  # warm: first batches, allocator
    walls: dict[str, list[float]] = {name: [] for name in LOADS}
    names = list(LOADS)
    for i in range(args.runs):
        for name in names if i % 2 == 0 else reversed(names):
            walls[name].append(timed_fit(arrays, args.epochs, LOADS[name], others))
    idle = walls["idle"]
    for name in names:
        paired = statistics.median(w / base for w, base in zip(walls[name], idle, strict=True))
        print(
            f"{name:<22} median {statistics.median(walls[name]):.3f} s, "
            f"median paired ratio to idle {paired:.3f} ({args.runs} runs)"
        )


if __name__ == "__main__":
    main()

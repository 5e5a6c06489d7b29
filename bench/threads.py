"""Epoch time with 1 and 2 intra-op threads, alone and beside a busy process.

Justifies `trainer.device.default_threads()`: one thread on machines with two CPUs or
fewer. The model and data are the notebook's (784-50-10 MLP, SGD, bs 64) on synthetic
MNIST-shaped data; the busy neighbour is a second Python process spinning on one core.

    python bench/threads.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer import (
    DataBunch,
    Learner,
    Runner,
    available_cpus,
    default_threads,
    get_model,
    make_synthetic,
)

SPIN = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end: pass\n"


def epoch_seconds(arrays: tuple[torch.Tensor, ...], threads: int, seed: int) -> float:
    torch.set_num_threads(threads)
    data = DataBunch.from_arrays(*arrays, 64, c=10, seed=seed)
    torch.manual_seed(seed)
    learn = Learner(*get_model(data), F.cross_entropy, data)
    start = time.perf_counter()
    Runner().fit(1, learn)
    return time.perf_counter() - start


def measure(args: argparse.Namespace, arrays: tuple[torch.Tensor, ...]) -> dict[int, float]:
    times: dict[int, list[float]] = {1: [], 2: []}
    for i in range(args.runs):
        for threads in (1, 2) if i % 2 == 0 else (2, 1):
            times[threads].append(epoch_seconds(arrays, threads, seed=i))
    return {t: statistics.median(ts) for t, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=3, help="epochs per configuration (interleaved)"
    )
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-valid", type=int, default=2_000)
    args = parser.parse_args()
    arrays = make_synthetic(args.n_train, args.n_valid, seed=0)

    results = {"alone": measure(args, arrays)}
    busy = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        time.sleep(0.5)  # let the neighbour get going
        results["busy neighbour"] = measure(args, arrays)
    finally:
        busy.kill()
        busy.wait()

    print(f"epoch time, {args.n_train}/{args.n_valid} samples, median of {args.runs} epochs")
    print(f"CPUs available: {available_cpus()}; default_threads() -> {default_threads()}")
    print(f"{'condition':<16}{'1 thread s':>12}{'2 threads s':>13}{'2/1':>8}")
    for condition, med in results.items():
        print(f"{condition:<16}{med[1]:>12.3f}{med[2]:>13.3f}{med[2] / med[1]:>8.2f}")


if __name__ == "__main__":
    main()

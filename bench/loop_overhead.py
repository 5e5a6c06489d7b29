"""What the Runner's callbacks cost over a hand-written loop doing the same work.

The notebook's model (784-50-10 MLP, SGD lr 0.5, bs 64, valid bs 128) on synthetic
MNIST-shaped data (50,000 train, 10,000 valid), 3 epochs: `Runner` with
`TrainEvalCallback` + `AvgStatsCallback([accuracy])` against a plain loop that trains,
validates and accumulates loss and accuracy the same way. Runs are interleaved and the
medians compared; both loops must end with identical weights. Each run is timed twice:
wall clock, and CPU time of the training thread (torch runs one intra-op thread here), which
other processes on a shared machine disturb far less; the ratio is given for both. Then
bare dispatch: the cost of one `run(event)` with 0, 1 and 3 handlers.

    python bench/loop_overhead.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer import (
    AvgStatsCallback,
    Callback,
    DataBunch,
    Learner,
    Runner,
    accuracy,
    get_model,
    make_synthetic,
)


def make_data(args: argparse.Namespace, seed: int) -> DataBunch:
    return DataBunch.from_arrays(*args.arrays, args.bs, c=10, seed=seed)


Timing = tuple[float, float]  # (wall seconds, thread CPU seconds)


def timer() -> Timing:
    return time.perf_counter(), time.thread_time()


def since(start: Timing) -> Timing:
    return time.perf_counter() - start[0], time.thread_time() - start[1]


def runner_fit(args: argparse.Namespace, seed: int) -> tuple[Timing, torch.nn.Module]:
    data = make_data(args, seed)
    torch.manual_seed(seed)
    learn = Learner(*get_model(data, lr=args.lr, nh=args.nh), F.cross_entropy, data)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False)])
    start = timer()
    run.fit(args.epochs, learn)
    return since(start), learn.model


def hand_fit(args: argparse.Namespace, seed: int) -> tuple[Timing, torch.nn.Module]:
    data = make_data(args, seed)
    torch.manual_seed(seed)
    model, opt = get_model(data, lr=args.lr, nh=args.nh)
    start = timer()
    for _ in range(args.epochs):
        model.train()
        train_stats = run_phase(model, opt, data.train_dl)
        model.eval()
        with torch.no_grad():
            valid_stats = run_phase(model, None, data.valid_dl)
        args.last_stats = (train_stats, valid_stats)
    return since(start), model


def run_phase(model: torch.nn.Module, opt: torch.optim.Optimizer | None, dl: DataBunch) -> list:
    """One pass; sums of loss and accuracy stay tensors and are read once at the end."""
    tot_loss = tot_acc = None
    count = 0
    for xb, yb in dl:
        pred = model(xb)
        loss = F.cross_entropy(pred, yb)
        with torch.no_grad():
            bn = xb.shape[0]
            if tot_loss is None:
                tot_loss, tot_acc = loss.detach().float() * bn, accuracy(pred, yb) * bn
            else:
                tot_loss.add_(loss.detach(), alpha=bn)
                tot_acc.add_(accuracy(pred, yb), alpha=bn)
            count += bn
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
    return [v / count for v in torch.stack([tot_loss, tot_acc]).tolist()]


class _Noop(Callback):
    def after_pred(self) -> None:
        return None


def dispatch_ns(n_handlers: int, calls: int) -> float:
    """Nanoseconds per `run("after_pred")` with `n_handlers` trivial handlers."""
    run = Runner(cbs=[_Noop() for _ in range(n_handlers)])
    event = run.__call__
    best = float("inf")
    for _ in range(5):  # best of 5 in thread CPU time: the least disturbed by other processes
        start = time.thread_time_ns()
        for _ in range(calls):
            event("after_pred")
        best = min(best, (time.thread_time_ns() - start) / calls)
    return best


def report(args: argparse.Namespace, times: dict[str, list[Timing]]) -> None:
    print(
        f"loop overhead: {args.epochs} epochs, {args.n_train}/{args.n_valid} samples, "
        f"bs {args.bs}, {args.threads} thread(s), {args.runs} interleaved runs each"
    )
    print(f"{'loop':<20}{'wall median':>12}{'wall min':>10}{'wall max':>10}{'CPU median':>12}")
    med = {}
    for name, ts in times.items():
        wall, cpu = [t[0] for t in ts], [t[1] for t in ts]
        med[name] = (statistics.median(wall), statistics.median(cpu))
        print(
            f"{name:<20}{med[name][0]:>11.3f}s{min(wall):>9.3f}s{max(wall):>9.3f}s"
            f"{med[name][1]:>11.3f}s"
        )
    for i, kind in enumerate(("wall", "CPU")):
        ratio = med["Runner"][i] / med["hand-written loop"][i]
        best = min(t[i] for t in times["Runner"]) / min(t[i] for t in times["hand-written loop"])
        print(f"ratio Runner / hand-written, {kind}: medians {ratio:.3f}, minima {best:.3f}")
    print("target: ratio of medians <= 1.05")
    batches = args.epochs * (-(-args.n_train // args.bs) + -(-args.n_valid // (2 * args.bs)))
    extra_us = (med["Runner"][1] - med["hand-written loop"][1]) / batches * 1e6
    print(f"Runner's extra CPU time per batch (medians): {extra_us:+.1f} us over {batches} batches")
    print("final weights identical in every run: yes")


def compare(args: argparse.Namespace) -> dict[str, list[Timing]]:
    """Interleaved runs of both loops; both must end with identical weights."""
    times: dict[str, list[Timing]] = {"hand-written loop": [], "Runner": []}
    for i in range(args.runs):
        order = [("hand-written loop", hand_fit), ("Runner", runner_fit)]
        models = {}
        for name, fn in order if i % 2 == 0 else order[::-1]:
            timing, models[name] = fn(args, seed=i)
            times[name].append(timing)
        pairs = zip(
            models["Runner"].parameters(), models["hand-written loop"].parameters(), strict=True
        )
        if not all(torch.equal(a, b) for a, b in pairs):
            raise SystemExit(f"run {i}: Runner and hand-written loop ended with different weights")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each loop (interleaved)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--n-valid", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--dispatch-calls", type=int, default=200_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.arrays = make_synthetic(args.n_train, args.n_valid, seed=0)

    args.nh = 50
    report(args, compare(args))
    # The same with a 1-unit hidden layer: torch's work shrinks, the loop machinery stays.
    args.nh = 1
    print("\nmachinery only (784-1-10 model, same loops):")
    report(args, compare(args))
    print(f"\nbare dispatch, best of 5 x {args.dispatch_calls} calls of run('after_pred'):")
    for n in (0, 1, 3):
        ns = dispatch_ns(n, args.dispatch_calls)
        print(f"  {n} handler(s): {ns:7.0f} ns/event  ({1e9 / ns:,.0f} events/s)")


if __name__ == "__main__":
    main()

"""What the Runner's callbacks cost over a hand-written loop doing the same work.

The notebook's model (784-50-10 MLP, SGD lr 0.5, bs 64, valid bs 128) on synthetic
MNIST-shaped data (50,000 train, 10,000 valid), 3 epochs: `Runner` with
`TrainEvalCallback` + `AvgStatsCallback([accuracy])` against a plain loop that trains,
validates and accumulates loss and accuracy the same way. Runs are interleaved and the
medians compared; both loops must end with identical weights. Then bare dispatch: the
cost of one `run(event)` with 0, 1 and 3 handlers.

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
    Dataset,
    Learner,
    Runner,
    accuracy,
    get_dls,
    get_model,
    make_synthetic,
)


def make_data(args: argparse.Namespace, seed: int) -> DataBunch:
    x_train, y_train, x_valid, y_valid = args.arrays
    dls = get_dls(Dataset(x_train, y_train), Dataset(x_valid, y_valid), args.bs, seed=seed)
    return DataBunch(*dls, c=10)


def runner_fit(args: argparse.Namespace, seed: int) -> tuple[float, torch.nn.Module]:
    data = make_data(args, seed)
    torch.manual_seed(seed)
    learn = Learner(*get_model(data, lr=args.lr, nh=50), F.cross_entropy, data)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False)])
    start = time.perf_counter()
    run.fit(args.epochs, learn)
    return time.perf_counter() - start, learn.model


def hand_fit(args: argparse.Namespace, seed: int) -> tuple[float, torch.nn.Module]:
    data = make_data(args, seed)
    torch.manual_seed(seed)
    model, opt = get_model(data, lr=args.lr, nh=50)
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        train_stats = run_phase(model, opt, data.train_dl)
        model.eval()
        with torch.no_grad():
            valid_stats = run_phase(model, None, data.valid_dl)
        args.last_stats = (train_stats, valid_stats)
    return time.perf_counter() - start, model


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
    for _ in range(5):  # best of 5: the least disturbed by other processes
        start = time.perf_counter_ns()
        for _ in range(calls):
            event("after_pred")
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


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

    times: dict[str, list[float]] = {"hand-written loop": [], "Runner": []}
    for i in range(args.runs):
        order = [("hand-written loop", hand_fit), ("Runner", runner_fit)]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            seconds, model = fn(args, seed=i)
            times[name].append(seconds)
            if name == "Runner":
                runner_model = model
            else:
                hand_model = model
        same = all(
            torch.equal(a, b)
            for a, b in zip(runner_model.parameters(), hand_model.parameters(), strict=True)
        )
        if not same:
            raise SystemExit(f"run {i}: Runner and hand-written loop ended with different weights")

    print(
        f"loop overhead: {args.epochs} epochs, {args.n_train}/{args.n_valid} samples, "
        f"bs {args.bs}, {args.threads} thread(s), {args.runs} interleaved runs each"
    )
    print(f"{'loop':<20}{'median s':>10}{'min s':>10}{'max s':>10}")
    for name, ts in times.items():
        print(f"{name:<20}{statistics.median(ts):>10.3f}{min(ts):>10.3f}{max(ts):>10.3f}")
    ratio = statistics.median(times["Runner"]) / statistics.median(times["hand-written loop"])
    print(f"ratio Runner / hand-written (medians): {ratio:.3f}  (target <= 1.05)")
    print("final weights identical in every run: yes")

    print(f"\nbare dispatch, best of 5 x {args.dispatch_calls} calls of run('after_pred'):")
    for n in (0, 1, 3):
        ns = dispatch_ns(n, args.dispatch_calls)
        print(f"  {n} handler(s): {ns:7.0f} ns/event  ({1e9 / ns:,.0f} events/s)")


if __name__ == "__main__":
    main()

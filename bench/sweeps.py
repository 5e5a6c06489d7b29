"""20 sweep trials through fitboard against the same 20 trials in a bare Optuna loop.

fitboard: `POST /api/sweeps` to a server in its own process (one worker, `parallel` 1), timed
from the sweep's `created_at` to its `finished_at` (the server's clock: no polling error).
Every trial there is a real run: queued, stored, published, its objective reported per epoch
into Optuna's RDB storage on the server's SQLite database. Baseline: `study.optimize` in
this process, in memory, calling the same training function (the recipe's Learner and a
Runner with the recipe's AvgStats metrics, `trial.report` after every epoch). Both sample
the same space with the same seeded TPE sampler and no pruner, sequentially; the runs are
interleaved, and each figure is the median of `--repeats`. Each repeat's two arms run back to
back, so the median of their paired ratios is printed too: the machine's drift between
repeats cancels in it.

To say where fitboard's time goes, the server's CPU is split by thread (psutil): its training
thread, and the rest (saving messages, Optuna's RDB storage, the event loop, the API).

    python bench/sweeps.py --trials 20 --repeats 3 [--epochs 10 --bs 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import optuna
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.catalog import recipe_registry  # noqa: E402
from bench.service import SERVER_PID, serve  # noqa: E402
from trainer import AvgStatsCallback, Callback, Runner, set_threads  # noqa: E402

SPACE = {"lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True}}
# The mlp recipe's default data, named so that both arms say what they train on: 12,933
# training images, 1,617 batches of 8 an epoch (about 0.3 s an epoch on one thread).
DATASET = "shifted_digits"
POLL_SECONDS = 5.0  # how often the bench asks whether the sweep has ended


def sweep_request(trials: int, epochs: int, bs: int) -> dict[str, Any]:
    return {
        "recipe": "mlp",
        "params": {"epochs": epochs, "bs": bs, "dataset": DATASET},
        "space": SPACE,
        "objective": "valid.accuracy",
        "direction": "max",
        "n_trials": trials,
        "parallel": 1,
        "sampler": "tpe",
        "pruner": "none",
        "seed": 0,
    }


def fitboard_seconds(url: str, body: dict[str, Any]) -> tuple[float, list[float], float]:
    """Seconds from the sweep's creation to its end, as the server recorded them; the
    learning rates its trials sampled, by trial number; and the server's CPU seconds outside
    its busiest (training) thread meanwhile."""
    server = psutil.Process(SERVER_PID[url])
    before = _thread_cpu(server)
    with httpx.Client(base_url=url, timeout=60) as client:
        sweep = client.post("/api/sweeps", json=body).raise_for_status().json()
        while sweep["status"] == "running":
            # The server's own timestamps time it, so the poll can be rare: each poll's work
            # (reading the study back from the RDB storage) shares the GIL with the trial's
            # training. Once a second, as the sweep page polls, it was 1 % of the server's
            # samples holding the GIL (py-spy --gil); the figure is for no page open.
            time.sleep(POLL_SECONDS)
            sweep = client.get(f"/api/sweeps/{sweep['id']}").raise_for_status().json()
    spent = sorted((cpu - before.get(tid, 0.0) for tid, cpu in _thread_cpu(server).items()))
    assert sweep["status"] == "completed", sweep
    assert sweep["counts"]["complete"] == body["n_trials"], sweep["counts"]
    created = datetime.fromisoformat(sweep["created_at"])
    finished = datetime.fromisoformat(sweep["finished_at"])
    lrs = [t["params"]["lr"] for t in sorted(sweep["trials"], key=lambda t: t["number"])]
    return (finished - created).total_seconds(), lrs, sum(spent[:-1])


def _thread_cpu(process: psutil.Process) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in process.threads()}


class _ReportEpochs(Callback):
    """What fitboard does per epoch, done in-process: report the objective to the trial."""

    _order = 1  # after AvgStatsCallback has set epoch_stats

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def after_epoch(self) -> None:
        self.trial.report(self.run.epoch_stats["valid"]["accuracy"], self.epoch)


def train(params: dict[str, Any], trial: optuna.Trial) -> float:
    """The training function both sides run: the recipe's Learner, fit with its metrics."""
    recipe = recipe_registry.get("mlp")
    valid = recipe_registry.validate_params("mlp", params)
    learn = recipe_registry.build("mlp", valid)
    runner = Runner(
        cbs=[_ReportEpochs(trial)],
        cb_funcs=[partial(AvgStatsCallback, list(recipe.metrics), verbose=False)],
    )
    runner.fit(valid.epochs, learn)
    return float(runner.epoch_stats["valid"]["accuracy"])


def bare_seconds(body: dict[str, Any]) -> tuple[float, list[float]]:
    """The same trials in a bare Optuna loop, in memory, in this process; and their lrs."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    low, high = SPACE["lr"]["low"], SPACE["lr"]["high"]

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", low, high, log=True)
        return train({**body["params"], "lr": lr}, trial)

    start = time.perf_counter()
    study.optimize(objective, n_trials=body["n_trials"])
    seconds = time.perf_counter() - start
    return seconds, [t.params["lr"] for t in study.trials]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    # About a second a trial on one thread: a short recipe, yet long enough that the figure is
    # fitboard's overhead and not the machine's timer noise.
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each trial")
    parser.add_argument("--bs", type=int, default=8)
    args = parser.parse_args()
    set_threads(1)
    os.environ["FITBOARD_TORCH_THREADS"] = "1"  # the server's runs: one intra-op thread too
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    body = sweep_request(args.trials, args.epochs, args.bs)

    bare: list[float] = []
    fitboard: list[float] = []
    paired: list[float] = []
    other_cpu: list[float] = []
    sampled: dict[str, list[float]] = {}
    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="fitboard-bench-") as data_dir,
        serve(workers=1, data_dir=data_dir) as url,
    ):
        fitboard_seconds(url, {**body, "n_trials": 1})  # warm: imports, first study
        bare_seconds({**body, "n_trials": 1})
        for i in range(args.repeats):
            for arm in ("bare", "fitboard") if i % 2 == 0 else ("fitboard", "bare"):
                if arm == "bare":
                    seconds, sampled[arm] = bare_seconds(body)
                    bare.append(seconds)
                else:
                    seconds, sampled[arm], cpu = fitboard_seconds(url, body)
                    fitboard.append(seconds)
                    other_cpu.append(cpu)
            paired.append(fitboard[-1] / bare[-1])

    bare_s, fitboard_s = statistics.median(bare), statistics.median(fitboard)
    per_trial_ms = (fitboard_s - bare_s) / args.trials * 1000
    other_ms = statistics.median(other_cpu) / args.trials * 1000
    load_after = os.getloadavg()
    pairs = zip(sampled["bare"], sampled["fitboard"], strict=True)
    same = all(abs(a - b) <= 1e-9 * abs(a) for a, b in pairs)
    print(
        f"{args.trials} trials of mlp on {DATASET} ({args.epochs} epochs, bs {args.bs}), "
        f"sequential, TPE seed 0, no pruner, 1 torch thread; median of {args.repeats}"
    )
    print(f"same learning rates sampled by both: {'yes' if same else 'NO'}")
    print(f"{'':<28}{'seconds':>10}{'per trial ms':>15}")
    print(f"{'bare Optuna loop':<28}{bare_s:>10.2f}{bare_s / args.trials * 1000:>15.1f}")
    print(f"{'fitboard sweep':<28}{fitboard_s:>10.2f}{fitboard_s / args.trials * 1000:>15.1f}")
    print(f"fitboard overhead per trial: {per_trial_ms:.1f} ms")
    print(f"server CPU outside the training thread, per trial: {other_ms:.1f} ms")
    print(
        f"ratio fitboard / bare: {fitboard_s / bare_s:.3f} (ratio of medians), "
        f"{statistics.median(paired):.3f} (median paired ratio); target <= 1.10"
    )
    print(f"runs: bare {[round(t, 2) for t in bare]}, fitboard {[round(t, 2) for t in fitboard]}")
    print(f"paired ratios: {[round(r, 3) for r in paired]}")
    print(
        "load average (1, 5, 15 min): "
        f"before {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' '.join(f'{x:.2f}' for x in load_after)}"
    )


if __name__ == "__main__":
    main()

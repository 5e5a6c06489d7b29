"""A user's training script: the notebook's Runner with a `DashboardCallback`, as a process.

    python -m tests.app.external.script URL SPOOL_DIR [--epochs N] [--batch-sleep S]

Prints `registered <run id>` once the server knows the run (or `unregistered`), one
`epoch <n>` line per epoch, and at the end `result <json>`: the run id and the Runner's
stop reason.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import torch.nn.functional as F

from trainer import *  # noqa: F403 - the notebook's way, and what the issue promises

set_threads(1)  # noqa: F405


class SlowBatches(Callback):  # noqa: F405
    """Makes each training batch take at least `seconds`, so a test can act mid-fit."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def after_batch(self) -> None:
        if self.run.in_train and self.seconds:
            time.sleep(self.seconds)


class EpochLines(Callback):  # noqa: F405
    _order = 200

    def after_epoch(self) -> None:
        print(f"epoch {self.run.epoch}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("spool_dir")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sleep", type=float, default=0.0)
    args = parser.parse_args()
    x_train, y_train, x_valid, y_valid = get_data("digits")  # noqa: F405
    data = DataBunch.from_arrays(x_train, y_train, x_valid, y_valid, bs=64)  # noqa: F405
    learn = Learner(*get_model(data, lr=0.5), F.cross_entropy, data)  # noqa: F405
    dashboard = DashboardCallback(  # noqa: F405
        args.url, name="script", params={"lr": 0.5}, spool_dir=args.spool_dir
    )
    run = Runner(  # noqa: F405
        cbs=[dashboard, SlowBatches(args.batch_sleep), EpochLines()],
        cb_funcs=[partial(AvgStatsCallback, [accuracy], verbose=False)],  # noqa: F405
    )

    class Announce(Callback):  # noqa: F405
        _order = -10

        def begin_epoch(self) -> None:
            if self.run.epoch == 0:  # registration runs in the background: wait for it here
                assert dashboard.client is not None
                dashboard.client.registered.wait(5)
                print(f"registered {dashboard.run_id or 'unregistered'}", flush=True)

    run.add_cbs([Announce()])
    run.fit(args.epochs, learn)
    reason = run.stop_reason
    result = {"run_id": dashboard.run_id, "stop_reason": reason and reason.source}
    print("result " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

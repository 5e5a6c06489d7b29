"""StopAfterIters, EarlyStopping, TerminateOnNaN and TimeLimit: who stopped, when and why."""

from __future__ import annotations

import time

import pytest
import torch

from trainer import (
    AvgStatsCallback,
    Callback,
    EarlyStopping,
    Runner,
    StopAfterIters,
    TerminateOnNaN,
    TimeLimit,
    accuracy,
)


def test_stop_after_iters_trains_exactly_n_batches(make_learn):
    run = Runner(cbs=StopAfterIters(7))
    run.fit(3, make_learn())
    assert run.n_iter == 7
    reason = run.stop_reason
    assert (reason.source, reason.message, reason.epoch, reason.iter) == (
        "stop_after_iters",
        "reached 7 iterations",
        0,
        7,
    )


def test_stop_after_iters_spanning_epochs(make_learn):
    learn = make_learn(bs=256)  # 6 batches an epoch
    run = Runner(cbs=StopAfterIters(8))
    run.fit(3, learn)
    assert (run.n_iter, run.stop_reason.epoch) == (8, 1)


class FeedLoss(Callback):
    """Replaces the epoch's validation loss with a scripted sequence."""

    _order = 5

    def __init__(self, values):
        self.values = values

    def after_epoch(self):
        self.run.epoch_stats["valid"]["loss"] = self.values[self.epoch]


def test_early_stopping_waits_patience_epochs_and_names_metric_and_values(make_learn):
    losses = [1.0, 0.8, 0.79, 0.85, 0.81, 0.5, 0.4]
    stopper = EarlyStopping(monitor="valid_loss", patience=2, min_delta=0.05)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), FeedLoss(losses), stopper])
    run.fit(len(losses), make_learn())
    reason = run.stop_reason
    # best 0.8 at epoch 1; 0.79 is within min_delta; epochs 2 and 3 without improvement
    assert reason.source == "early_stopping" and reason.epoch == 3
    assert reason.details == {"monitor": "valid_loss", "value": 0.85, "best": 0.8}
    assert reason.message == "valid_loss did not improve for 2 epochs: best 0.8, last 0.85"


def test_early_stopping_on_accuracy_maximises(make_learn):
    stopper = EarlyStopping(monitor="valid_accuracy", patience=0)
    assert stopper.mode == "max"

    class FeedAcc(Callback):
        _order = 5

        def after_epoch(self):
            self.run.epoch_stats["valid"]["accuracy"] = [0.5, 0.7, 0.6][self.epoch]

    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), FeedAcc(), stopper])
    run.fit(3, make_learn())
    assert run.stop_reason.epoch == 2 and run.stop_reason.details["best"] == 0.7


def test_early_stopping_unknown_monitor_names_available_stats(make_learn):
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), EarlyStopping("valid_f1")])
    with pytest.raises(Exception, match=r"valid_f1.*'train_loss', 'train_accuracy'") as info:
        run.fit(1, make_learn())
    assert info.value.event == "after_epoch"


def test_early_stopping_bad_mode():
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")


def test_terminate_on_nan_stops_before_the_bad_step(make_learn):
    learn = make_learn()

    class Poison(Callback):
        def after_loss(self):
            if self.in_train and self.n_iter == 3:
                self.run.loss = self.loss * float("nan")

    run = Runner(cbs=[Poison(), TerminateOnNaN()])
    run.fit(2, learn)
    assert run.stop_reason.source == "terminate_on_nan"
    assert "loss is nan at epoch 0, batch 3" in run.stop_reason.message
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())


def test_time_limit_stops_at_the_next_batch(make_learn):
    class Slow(Callback):
        def after_batch(self):
            time.sleep(0.02)

    run = Runner(cbs=[Slow(), TimeLimit(0.1)])
    start = time.monotonic()
    run.fit(100, make_learn(bs=32))
    assert time.monotonic() - start < 2
    assert run.stop_reason.source == "time_limit"
    assert run.stop_reason.details["elapsed"] >= 0.1


@pytest.mark.parametrize("make", [lambda: StopAfterIters(0), lambda: TimeLimit(0)])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


class _AttachAt(Callback):
    """Attaches `stopper` to the running fit at the start of epoch `epoch`."""

    def __init__(self, epoch, stopper):
        self.at, self.stopper = epoch, stopper

    def begin_epoch(self):
        if self.epoch == self.at:
            self.run.add_cbs([self.stopper])


def test_early_stopping_attached_mid_fit_counts_the_epochs_before_it(make_learn):
    losses = [1.0, 0.5, 0.9, 0.8, 0.7, 0.6, 0.55, 0.52]  # best 0.5 at epoch 1, then worse
    stopper = EarlyStopping(monitor="valid_loss", patience=4)
    feed = FeedLoss(losses)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), feed, _AttachAt(3, stopper)])
    run.fit(len(losses), make_learn())
    reason = run.stop_reason
    # Joined at epoch 3 knowing epochs 0-2: 0.9 was the first epoch without improvement.
    assert (reason.epoch, reason.details["best"]) == (5, 0.5)
    assert reason.message == "valid_loss did not improve for 4 epochs: best 0.5, last 0.6"


def test_early_stopping_attached_after_a_long_plateau_stops_at_once(make_learn):
    losses = [0.5, 0.9, 0.8, 0.7, 0.6, 0.55]
    stopper = EarlyStopping(monitor="valid_loss", patience=2)
    run = Runner(
        cbs=[AvgStatsCallback([accuracy], verbose=False), FeedLoss(losses), _AttachAt(4, stopper)]
    )
    learn = make_learn()
    run.fit(len(losses), learn)
    assert run.stop_reason.epoch == 4 and run.stop_reason.details["best"] == 0.5
    assert run.stop_reason.iter == 4 * len(learn.data.train_dl)  # at epoch 4's first boundary


def test_early_stopping_with_patience_0_attached_after_an_improvement_waits(make_learn):
    stopper = EarlyStopping(monitor="valid_loss", patience=0)
    run = Runner(
        cbs=[AvgStatsCallback([accuracy], verbose=False), FeedLoss([0.9, 0.5, 0.6]),
             _AttachAt(2, stopper)]
    )  # fmt: skip
    run.fit(3, make_learn())
    assert run.stop_reason.epoch == 2 and run.stop_reason.details["value"] == 0.6

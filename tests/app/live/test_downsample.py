"""The one downsampler of the batch-loss series: equal buckets, means, nulls kept visible."""

from __future__ import annotations

import pytest

from app.live.downsample import batch_history, downsample


def test_a_short_series_comes_back_whole() -> None:
    assert downsample([1, 2], [0.5, None], [0.1, 0.1], 10) == {
        "iter": [1, 2],
        "loss": [0.5, None],
        "lr": [0.1, 0.1],
    }


def test_buckets_are_equal_in_order_and_hold_the_mean() -> None:
    n, k = 23, 5
    down = downsample(list(range(1, n + 1)), [float(i) for i in range(n)], [0.5] * n, k)
    buckets = [[i for i in range(n) if i * k // n == b] for b in range(k)]
    assert [len(b) for b in buckets] == [5, 5, 4, 5, 4]
    assert down["iter"] == [b[-1] + 1 for b in buckets]
    assert down["loss"] == pytest.approx([sum(b) / len(b) for b in buckets])
    assert down["lr"] == [0.5] * k


def test_a_null_loss_makes_its_bucket_null() -> None:
    down = downsample([1, 2, 3, 4, 5, 6], [1.0, None, 3.0, None, 5.0, 7.0], [0.1] * 6, 3)
    assert down == {"iter": [2, 4, 6], "loss": [None, None, 6.0], "lr": [0.1] * 3}


def test_mismatched_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        downsample([1, 2], [1.0], [0.1, 0.1], 10)


def _epoch(epoch: int, iters: list[int]) -> dict:
    curve = {"iter": iters, "loss": [1.0 / i for i in iters], "lr": [0.1] * len(iters)}
    return {"epoch": epoch, "batches": curve}


def test_history_joins_epoch_curves_and_the_live_batches_of_the_unfinished_epoch() -> None:
    epochs = [_epoch(0, [1, 2, 3]), _epoch(1, [4, 5, 6])]
    live = [
        {"epoch": 0, "iter": 1, "loss": 9.0, "lr": 0.1},  # epoch 0 has its curve: not used
        {"epoch": 2, "iter": 8, "loss": 0.125, "lr": 0.1},  # still training: used
    ]
    history = batch_history(epochs, live, 100)
    assert [p["iter"] for p in history] == [1, 2, 3, 4, 5, 6, 8]
    assert history[0] == {"iter": 1, "loss": 1.0, "lr": 0.1}


def test_history_of_an_old_run_without_curves_uses_its_batch_messages() -> None:
    live = [{"epoch": 0, "iter": i, "loss": 1.0, "lr": 0.1} for i in range(1, 101)]
    history = batch_history([{"epoch": 0, "train": {}}], live, 10)
    assert len(history) == 10
    assert [p["iter"] for p in history][:2] == [10, 20]  # each bucket's last batch

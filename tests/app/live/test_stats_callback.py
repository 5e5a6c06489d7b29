"""WebSocketStatsCallback on a real fit: what it publishes, and how often."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest
import torch

from app.catalog import recipe_registry
from app.live.hub import EventHub
from app.live.stats_callback import WebSocketStatsCallback
from trainer import AvgStatsCallback, Callback, Recorder, Runner, StopAfterIters, accuracy

pytestmark = pytest.mark.timeout(120)


def _fit(
    batch_interval: float, *extra: Any, epochs: int = 2, batch_points: int = 100
) -> list[dict[str, Any]]:
    """Train the mlp recipe on digits with the callback publishing into a real hub."""
    saved: list[dict[str, Any]] = []

    async def main() -> None:
        hub = EventHub(saved.extend)
        hub.start()
        hub.open_run("r")
        stats = WebSocketStatsCallback(
            partial(hub.publish, "r"), batch_interval=batch_interval, batch_points=batch_points
        )
        run = Runner(
            cbs=[stats, *extra], cb_funcs=[partial(AvgStatsCallback, [accuracy], verbose=False)]
        )
        params = recipe_registry.validate_params(
            "mlp", {"epochs": epochs, "bs": 64, "dataset": "digits", "lr": 0.5}
        )
        learn = recipe_registry.build("mlp", params)
        await asyncio.to_thread(run.fit, epochs, learn)
        await hub.close()

    asyncio.run(main())
    return saved


def test_every_epoch_is_published_with_train_and_valid_stats() -> None:
    messages = _fit(batch_interval=3600)
    epochs = [m for m in messages if m["type"] == "epoch"]
    assert [m["epoch"] for m in epochs] == [0, 1]
    for message in epochs:
        assert set(message["train"]) == set(message["valid"]) == {"loss", "accuracy"}
    assert epochs[1]["train"]["loss"] < epochs[0]["train"]["loss"]
    batches = [m for m in messages if m["type"] == "batch"]
    assert len(batches) == 1  # the first batch; then the interval is never reached
    assert batches[0]["iter"] == 1 and batches[0]["lr"] == 0.5 and batches[0]["loss"] > 0


def test_with_no_interval_every_training_batch_is_published_in_order() -> None:
    messages = _fit(batch_interval=0, epochs=1)
    iters = [m["iter"] for m in messages if m["type"] == "batch"]
    assert iters == list(range(1, 24))  # ceil(1437 / 64) training batches, none in validation
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))


def test_a_callback_that_stops_the_fit_is_reported_as_early_stop() -> None:
    messages = _fit(3600, StopAfterIters(30))
    early = [m for m in messages if m["type"] == "early_stop"]
    assert len(early) == 1
    assert early[0]["source"] == "stop_after_iters" and early[0]["iter"] == 30
    assert early[0]["epoch"] == 1 and "30 iterations" in early[0]["reason"]


def test_each_epoch_message_carries_every_training_batch_of_its_epoch() -> None:
    recorder = Recorder()
    messages = _fit(3600, recorder)
    epochs = [m for m in messages if m["type"] == "epoch"]
    assert [m["epoch"] for m in epochs] == [0, 1]
    assert [m["batches"]["iter"] for m in epochs] == [list(range(1, 24)), list(range(24, 47))]
    losses = [loss for m in epochs for loss in m["batches"]["loss"]]
    assert losses == pytest.approx(recorder.losses, rel=1e-6)
    assert all(lr == 0.5 for m in epochs for lr in m["batches"]["lr"])
    # Still one live batch message: the full curve costs no extra messages.
    assert sum(m["type"] == "batch" for m in messages) == 1


def test_batches_are_averaged_down_to_batch_points_per_epoch() -> None:
    recorder = Recorder()
    messages = _fit(3600, recorder, batch_points=5)
    epochs = [m for m in messages if m["type"] == "epoch"]
    n, k = 23, 5
    for epoch, message in enumerate(epochs):
        record = recorder.losses[epoch * n : (epoch + 1) * n]
        buckets: list[list[int]] = [[] for _ in range(k)]
        for i in range(n):
            buckets[i * k // n].append(i)
        assert [len(b) for b in buckets] == [5, 5, 4, 5, 4]  # equal, in order, none empty
        batches = message["batches"]
        assert batches["iter"] == [epoch * n + b[-1] + 1 for b in buckets]
        expected = [sum(record[i] for i in b) / len(b) for b in buckets]
        assert batches["loss"] == pytest.approx(expected, rel=1e-6)
        assert batches["lr"] == [0.5] * k


def test_non_finite_batch_losses_become_null_in_the_epoch_curve() -> None:
    class Poison(Callback):
        _order = 50  # before the stats callback reads the loss

        def after_loss(self):
            if self.run.in_train and self.run.n_iter in (2, 5):
                self.run.loss = torch.tensor(float("nan"))
                return True  # skip backward and step: the weights stay finite

    messages = _fit(3600, Poison(), epochs=1)
    (epoch,) = [m for m in messages if m["type"] == "epoch"]
    losses = epoch["batches"]["loss"]
    assert [i for i, loss in enumerate(losses) if loss is None] == [2, 5]
    assert all(loss is None or loss > 0 for loss in losses)

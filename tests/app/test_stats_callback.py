"""WebSocketStatsCallback on a real fit: what it publishes, and how often."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest

from app.hub import EventHub
from app.recipes import registry
from app.stats_callback import WebSocketStatsCallback
from trainer import AvgStatsCallback, Runner, StopAfterIters, accuracy

pytestmark = pytest.mark.timeout(120)


def _fit(batch_interval: float, *extra: Any, epochs: int = 2) -> list[dict[str, Any]]:
    """Train the mlp recipe on digits with the callback publishing into a real hub."""
    saved: list[dict[str, Any]] = []

    async def main() -> None:
        hub = EventHub(saved.extend)
        hub.start()
        hub.open_run("r")
        stats = WebSocketStatsCallback(hub, "r", batch_interval=batch_interval)
        run = Runner(
            cbs=[stats, *extra], cb_funcs=[partial(AvgStatsCallback, [accuracy], verbose=False)]
        )
        params = registry.validate_params("mlp", {"epochs": epochs, "bs": 64})
        learn = registry.build("mlp", params)
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

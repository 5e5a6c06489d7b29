"""The run page's x-axis chooser in a real Chromium: iteration, epoch or wall clock, for
every chart at once, from the messages' iterations and times."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import events, start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

BATCHES = 23  # ceil(1437 / 64) training batches an epoch of digits


def _x_label(chart: Any) -> Any:
    return chart.locator(".u-legend .u-series").first.locator(".u-label")


def _shown_last_x(chart: Any) -> float:
    return float(chart.get_attribute("data-shown-last-x"))


def test_switching_the_x_axis_relabels_and_rescales_every_chart(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, {"epochs": 3, "bs": 64, "dataset": "digits"})
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    batch, epochs = page.locator("#chart-batch-loss"), page.locator("#chart-epoch-loss")
    expect(epochs).to_have_attribute("data-points", "3")
    # At first each chart has its own x: batches by iteration, epochs by epoch.
    expect(page.locator("#chart-metric-accuracy")).to_have_attribute("data-x-axis", "epoch")
    expect(batch).to_have_attribute("data-x-axis", "iteration")
    expect(_x_label(batch)).to_have_text("iteration")
    expect(_x_label(epochs)).to_have_text("epoch")
    assert _shown_last_x(batch) == 3 * BATCHES and _shown_last_x(epochs) == 3
    before = batch.locator("canvas").screenshot()

    page.select_option("#x-axis", "epoch")
    expect(batch).to_have_attribute("data-x-axis", "epoch")
    expect(_x_label(batch)).to_have_text("epoch")
    assert _shown_last_x(batch) == pytest.approx(3.0)  # the last batch ends epoch 3
    assert batch.locator("canvas").screenshot() != before  # the axis was drawn anew
    expect(batch).to_have_attribute("data-drawn", str(3 * BATCHES))  # no point lost

    page.select_option("#x-axis", "time")
    accuracy = page.locator("#chart-metric-accuracy")
    for chart in (batch, epochs, accuracy, page.locator("#chart-lr")):
        expect(chart).to_have_attribute("data-x-axis", "wall clock (s)")
        expect(_x_label(chart)).to_have_text("wall clock (s)")
    # Seconds from the first message to the last epoch's: what the messages' times say.
    saved = events(api, run_id)
    timed = [m for m in saved if m["type"] in ("batch", "epoch", "system")]
    first_batch = min(m["time"] for m in timed)
    last_epoch = [m for m in saved if m["type"] == "epoch"][-1]["time"]
    assert _shown_last_x(epochs) == pytest.approx(last_epoch - first_batch, abs=1e-3)
    assert 0 < _shown_last_x(batch) <= _shown_last_x(epochs) + 1e-6

    page.select_option("#x-axis", "iteration")
    expect(_x_label(epochs)).to_have_text("iteration")
    assert _shown_last_x(epochs) == 3 * BATCHES  # epoch 3 ended at the 69th batch
    page.select_option("#x-axis", "epoch")
    expect(_x_label(epochs)).to_have_text("epoch")
    assert _shown_last_x(epochs) == 3

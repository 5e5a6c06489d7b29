"""The run page's GPU chart in a real Chromium: hidden for a run without GPU figures, shown
beside CPU and memory once `system` messages carry them (as NVML gives them on CUDA; this
machine has no GPU, so the message is published the way SystemStatsCallback publishes it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from app.live.messages import system_message
from tests.browser.conftest import SLOW_PARAMS, start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def test_gpu_figures_appear_beside_cpu_and_memory(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, SLOW_PARAMS)
    wait_for_run(api, run_id, {"running"})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#chart-system")).not_to_have_attribute("data-points", "0")
    gpu = page.locator("#chart-gpu")
    expect(gpu).to_be_hidden()  # a CPU run's system messages have no GPU figures

    assert server.app is not None
    hub = server.app.state.hub
    message = system_message(50.0, 2**30, 0, 10**6, gpu=(87.0, 20 * 2**30, 80 * 2**30))
    hub.publish(run_id, message)
    expect(gpu).to_be_visible()
    expect(gpu).to_have_attribute("data-points", "1")
    expect(gpu.locator("[data-chart-last]")).to_have_text("GPU % 87.000 · GPU memory % 25.000")
    assert api.post(f"/api/runs/{run_id}/stop").status_code == 202

"""A run trained by a script (`DashboardCallback`) on the dashboard's pages in a real
Chromium: listed and charted live, and stopped by the run page's Stop button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.external.test_dashboard_callback import _fit, _registered
from tests.browser.conftest import wait_for_run
from tests.fixtures.server import LiveServer
from trainer import DashboardCallback

pytestmark = pytest.mark.browser


def test_a_scripts_run_is_live_on_its_page_and_obeys_its_stop_button(
    page: Any, server: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    dashboard = DashboardCallback(
        server.url, name="notebook run", params={"lr": 0.5}, spool_dir=tmp_path / "spool"
    )
    fit = _fit(dashboard, epochs=200, batch_sleep=0.005)
    run_id = _registered(dashboard)

    page.goto(server.url)
    row = page.locator(f'[data-run-id="{run_id}"]')
    expect(row).to_contain_text("notebook run")
    row.get_by_role("link", name="notebook run").click()
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#run-live")).to_have_attribute("data-training", "true")
    points = page.locator("#chart-epoch-loss")
    expect(points).not_to_have_attribute("data-points", "0")  # epochs arrive live
    expect(page.locator("#fork-form")).to_be_hidden()  # its state lives in the script

    page.click("#stop-button")
    page.click("#stop-confirm")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "stopped")
    fit.join(30)
    assert not fit.is_alive()  # the script's own fit ended
    assert fit.run_.stop_reason is not None and fit.run_.stop_reason.source == "user"
    assert wait_for_run(api, run_id, {"stopped"})["external"] is True

"""The compare page's table in a real Chromium: parameters, callbacks, dataset, status, best
and final metrics per run, the rows that differ marked, and the statistic chooser."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def _row(page: Any, label: str) -> Any:
    return page.locator(f'#compare-table tbody tr[data-row="{label}"]')


def test_the_table_marks_the_parameters_and_dataset_that_differ(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    base = {"epochs": 2, "bs": 64, "seed": 1}
    first = start_run(api, base | {"dataset": "digits", "lr": 0.5}, name="digits-fast")
    second = start_run(
        api,
        base | {"dataset": "shifted_digits", "lr": 0.1},
        name="shifted-slow",
        callbacks=[{"name": "early_stopping", "params": {"patience": 3}}],
    )
    for run_id in (first, second):
        wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/compare?ids={first},{second}")

    expect(page.locator("#compare-table thead th")).to_have_count(3)  # label + two runs
    expect(_row(page, "dataset").locator("td")).to_have_text(["digits", "shifted_digits"])
    for differing in ("dataset", "lr", "callbacks"):
        expect(_row(page, differing)).to_have_class("differs")
    for same in ("epochs", "bs", "seed", "recipe", "status", "epochs done"):
        expect(_row(page, same)).not_to_have_class("differs")
    assert page.locator("#compare-table tbody tr").first.get_attribute("data-row") == "status"
    expect(_row(page, "callbacks").locator("td").nth(1)).to_contain_text("early_stopping(")
    epochs = api.get(f"/api/runs/{first}/metrics").json()["epochs"]
    best = min(epochs, key=lambda e: e["valid"]["loss"])
    expect(_row(page, "best valid loss").locator("td").first).to_contain_text(
        f"(epoch {best['epoch'] + 1})"
    )
    expect(_row(page, "final valid accuracy").locator("td").first).to_have_text(
        f"{epochs[-1]['valid']['accuracy']:.4f}"
    )

    page.check("#compare-only-differing")
    expect(_row(page, "bs")).to_be_hidden()
    expect(_row(page, "lr")).to_be_visible()

    page.select_option("#compare-metric", "valid accuracy")
    expect(page.locator('[data-statistic="valid accuracy"]')).to_be_visible()
    expect(page.locator('[data-statistic="valid loss"]')).to_be_hidden()
    page.select_option("#compare-metric", "")
    expect(page.locator('[data-statistic="valid loss"]')).to_be_visible()

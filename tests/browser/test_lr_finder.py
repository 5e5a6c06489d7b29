"""The launch form's LR finder in a real Chromium: sweep, plot, and the lr into the form."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def test_the_finder_plots_its_sweep_and_fills_the_suggested_lr_into_the_form(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    page.goto(server.url)
    lr_field = page.locator('[name="params.lr"]')
    (mlp,) = [r for r in api.get("/api/recipes").json() if r["name"] == "mlp"]
    expect(lr_field).to_have_value(str(mlp["params_schema"]["properties"]["lr"]["default"]))
    page.select_option('[name="params.dataset"]', label="digits")  # a short sweep
    page.fill('[name="params.bs"]', "32")
    page.click("#lr-find-button")

    expect(page.locator("#lr-find-use")).to_be_visible(timeout=60_000)
    chart = page.locator("#lr-find-chart")
    points = int(chart.get_attribute("data-points"))
    assert points >= 20 and chart.locator("canvas").count() == 1
    expect(page.locator("#lr-find-status")).to_contain_text("falls fastest")

    (finder,) = api.get("/api/runs").json()["items"]  # the sweep is a run of its own
    assert finder["params"]["bs"] == 32  # made from the form as it was
    suggested = api.get(f"/api/runs/{finder['id']}/lr-find").json()["suggestion"]["lr"]
    page.click("#lr-find-use")
    expect(lr_field).to_have_value(re.compile(r"^[0-9.e-]+$"))
    assert float(lr_field.input_value()) == pytest.approx(suggested, rel=1e-2)
    assert lr_field.evaluate("node => node === document.activeElement")


def test_a_bad_parameter_shows_at_its_field_and_starts_no_sweep(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    page.goto(server.url)
    page.fill('[name="params.bs"]', "0")
    page.click("#lr-find-button")
    expect(page.locator('[data-path="params.bs"] .field-error')).to_be_visible()
    expect(page.locator("#lr-find-use")).to_be_hidden()
    assert api.get("/api/runs").json()["total"] == 0

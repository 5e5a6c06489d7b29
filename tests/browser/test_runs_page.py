"""The runs page in a real Chromium: launch form, 422s next to their field, live status."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW_PARAMS, chart_points, start_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def wait_for_points(page: Any, chart_id: str, at_least: int, timeout: float = 30_000) -> int:
    page.wait_for_function(
        "([id, n]) => Number(document.getElementById(id)?.dataset.points || 0) >= n",
        arg=[chart_id, at_least],
        timeout=timeout,
    )
    return chart_points(page, chart_id)


def open_runs_page(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/")
    expect(page.locator('#recipe-params [name="params.epochs"]')).to_be_visible()
    expect(page.locator("#runs-live")).to_have_attribute("data-state", "open")


def test_launch_from_the_form_then_the_charts_gain_points(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    open_runs_page(page, server)
    page.select_option("#recipe-select", "mlp")
    page.fill("#run-name", "from-the-form")
    page.fill('[name="params.epochs"]', str(SLOW_PARAMS["epochs"]))
    page.fill('[name="params.bs"]', str(SLOW_PARAMS["bs"]))
    page.click("#launch-submit")

    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    epochs = wait_for_points(page, "chart-epoch-loss", 1)
    batches = wait_for_points(page, "chart-batch-loss", 1)
    wait_for_points(page, "chart-epoch-loss", epochs + 1)  # live, without a reload
    wait_for_points(page, "chart-batch-loss", batches + 1)
    assert chart_points(page, "chart-metric-accuracy") >= 1
    assert chart_points(page, "chart-lr") >= 1
    run = api.get(f"/api/runs/{run_id}").json()
    assert run["name"] == "from-the-form"
    assert run["params"]["epochs"] == SLOW_PARAMS["epochs"]
    assert run["params"]["bs"] == SLOW_PARAMS["bs"]


def test_invalid_input_is_shown_next_to_its_field_and_creates_no_run(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    open_runs_page(page, server)
    page.fill('[name="params.epochs"]', "0")
    page.fill('[name="params.lr"]', "-1")
    page.click("#launch-submit")

    epochs_error = page.locator('[data-path="params.epochs"] .field-error')
    expect(epochs_error).to_be_visible()
    expect(epochs_error).to_contain_text("greater than or equal to 1")
    expect(page.locator('[name="params.epochs"]')).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-path="params.lr"] .field-error')).to_contain_text("greater than 0")
    expect(page.locator('[data-path="params.bs"] .field-error')).to_be_hidden()
    assert page.url == server.url + "/"
    assert api.get("/api/runs").json()["total"] == 0

    # Fixed parameters, a bad launch-time callback: its error sits in the callback's block.
    page.fill('[name="params.epochs"]', "1")
    page.fill('[name="params.lr"]', "0.1")
    page.select_option("#launch-callback-select", "early_stopping")
    page.click("#launch-callback-add")
    page.fill('[name="callbacks.0.params.patience"]', "-2")
    page.click("#launch-submit")
    patience_error = page.locator('[data-path="callbacks.0.params.patience"] .field-error')
    expect(patience_error).to_contain_text("greater than or equal to 0")
    expect(epochs_error).to_be_hidden()
    assert api.get("/api/runs").json()["total"] == 0

    page.fill('[name="callbacks.0.params.patience"]', "1")
    page.click("#launch-submit")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    runs = api.get("/api/runs").json()
    assert runs["total"] == 1
    assert [cb["params"]["patience"] for cb in runs["items"][0]["callbacks"]] == [1]


def test_runs_page_follows_a_run_without_a_reload(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    open_runs_page(page, server)
    page.evaluate("window.notReloaded = true")
    run_id = start_run(api, SLOW_PARAMS, name="watched")

    row = page.locator(f'#runs-body tr[data-run-id="{run_id}"]')
    expect(row.locator(".badge")).to_have_attribute("data-status", "running")
    # An epoch message fills the loss cells (a number, no longer the "no value" dash).
    expect(row.locator('td[data-label="Valid loss"]')).to_have_text(re.compile(r"^\d+\.\d+$"))
    assert api.post(f"/api/runs/{run_id}/stop").status_code == 202
    expect(row.locator(".badge")).to_have_attribute("data-status", "stopped")
    expect(row.locator(".badge")).to_have_text("stopped")
    assert page.evaluate("window.notReloaded") is True


def test_status_filter_and_compare_selection(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    quick = {"epochs": 2, "bs": 64}
    first, second = start_run(api, quick, name="first"), start_run(api, quick, name="second")
    stopped = start_run(api, SLOW_PARAMS, name="stopped-one")
    api.post(f"/api/runs/{stopped}/stop")
    open_runs_page(page, server)
    expect(page.locator("#runs-body tr")).to_have_count(3)

    page.select_option("#status-filter", "stopped")
    expect(page.locator("#runs-body tr")).to_have_count(1)
    expect(page.locator("#runs-body tr a")).to_have_text("stopped-one")
    page.select_option("#status-filter", "")
    expect(page.locator("#runs-body tr")).to_have_count(3)

    for run_id in (first, second):
        page.locator(f'tr[data-run-id="{run_id}"] input[type="checkbox"]').check()
    page.click("#compare-button")
    page.wait_for_url(re.compile(r"/compare\?ids="))
    expect(page.locator("#compare-runs li")).to_have_count(2)
    valid_loss = page.locator('[data-statistic="valid loss"]')
    expect(valid_loss).to_have_attribute("data-points", "2")  # two epochs, two runs overlaid
    expect(valid_loss.locator(".u-legend .u-series")).to_have_count(3)  # x and one per run


def test_pages_of_runs(page: Any, server: LiveServer, api: httpx.Client) -> None:
    ids = [start_run(api, SLOW_PARAMS, name=f"run-{i:02d}") for i in range(26)]
    for run_id in ids:  # cancelled while queued, stopped at the next batch while running
        api.post(f"/api/runs/{run_id}/stop")
    open_runs_page(page, server)
    expect(page.locator("#page-info")).to_have_text("1\u201325 of 26")
    expect(page.locator("#runs-body tr")).to_have_count(25)
    expect(page.locator("#runs-body tr").first.locator("a")).to_have_text("run-25")  # newest
    expect(page.locator("#page-prev")).to_be_disabled()

    page.click("#page-next")
    expect(page.locator("#page-info")).to_have_text("26\u201326 of 26")
    expect(page.locator("#runs-body tr a")).to_have_text("run-00")
    expect(page.locator("#page-next")).to_be_disabled()
    page.click("#page-prev")
    expect(page.locator("#runs-body tr")).to_have_count(25)


def test_a_token_is_asked_for_then_used(page: Any, server_factory: Any) -> None:
    token = "browser-test-token-0123456789abcdef"
    server = server_factory(token=token)
    page.goto(server.url + "/")
    banner = page.locator("#connection-banner")
    expect(banner).to_contain_text("needs an access token")
    page.fill("#token-input", token)
    page.click("#connection-banner button[type=submit]")

    expect(page.locator("#runs-live")).to_have_attribute("data-state", "open")
    expect(page.locator('#recipe-params [name="params.epochs"]')).to_be_visible()
    expect(banner).to_be_hidden()


def test_an_unreachable_server_is_said_plainly(page: Any, server: LiveServer) -> None:
    open_runs_page(page, server)
    server.stop()
    banner = page.locator("#connection-banner")
    expect(banner).to_contain_text("Cannot reach the fitboard server")
    expect(page.locator("#runs-live")).not_to_have_attribute("data-state", "open")

"""Chart controls in a real Chromium: the log toggle, zoom reset, the best-epoch marker, the
automatic log axis for a loss spanning decades, and the run page's speed facts."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW_PARAMS, start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

QUICK = {"epochs": 4, "dataset": "digits", "bs": 16, "lr": 0.3}


def _finished_run_page(page: Any, server: LiveServer, api: httpx.Client) -> str:
    run_id = start_run(api, QUICK)
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#chart-epoch-loss")).to_have_attribute("data-points", "4")
    return run_id


def test_the_log_toggle_switches_the_axis_and_back(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    _finished_run_page(page, server, api)
    chart = page.locator("#chart-epoch-loss")
    expect(chart).to_have_attribute("data-log", "false")
    before = chart.locator("canvas").screenshot()
    chart.locator("[data-log-toggle]").check()
    expect(chart).to_have_attribute("data-log", "true")
    expect(chart).to_have_attribute("data-drawn", "4")  # the points survive the new axis
    assert chart.locator("canvas").screenshot() != before  # the axis was drawn anew
    chart.locator("[data-log-toggle]").uncheck()
    expect(chart).to_have_attribute("data-log", "false")


def test_a_drag_zooms_and_a_visible_button_resets_it(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    _finished_run_page(page, server, api)
    chart = page.locator("#chart-batch-loss")
    reset = chart.locator(".chart-reset")
    expect(chart.locator(".chart-hint")).to_have_text("drag to zoom")
    expect(reset).to_be_hidden()
    box = chart.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    expect(reset).to_be_visible()
    expect(chart).to_have_attribute("data-zoomed", "true")
    expect(chart.locator(".chart-hint")).to_be_hidden()
    reset.click()
    expect(reset).to_be_hidden()
    expect(chart).to_have_attribute("data-zoomed", "false")


def test_the_best_epoch_is_marked_and_the_speed_facts_are_shown(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = _finished_run_page(page, server, api)
    epochs = api.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    best = min(epochs, key=lambda e: e["valid"]["loss"])["epoch"] + 1  # shown from 1
    expect(page.locator("#chart-epoch-loss")).to_have_attribute("data-best-x", str(best))
    accuracy = max(epochs, key=lambda e: e["valid"]["accuracy"])["epoch"] + 1
    expect(page.locator("#chart-metric-accuracy")).to_have_attribute("data-best-x", str(accuracy))
    expect(page.locator("#run-epoch-time")).to_have_text(re.compile(r"^\d+(\.\d)? s$"))
    expect(page.locator("#run-throughput")).to_have_text(re.compile(r"^[\d,]+/s$"))
    expect(page.locator("#run-eta")).to_have_text("\u2013")  # finished: nothing left


def test_a_loss_spanning_more_than_two_decades_starts_on_a_log_axis(
    page: Any, server: LiveServer
) -> None:
    page.goto(server.url + "/")
    drawn = page.evaluate(
        """async () => {
      const { LiveChart } = await import("/static/js/charts.js");
      const figure = document.createElement("figure");
      figure.innerHTML = "<figcaption></figcaption><div data-chart-body></div>";
      document.body.append(figure);
      const chart = new LiveChart(figure, {
        xLabel: "iteration", logY: "auto", series: [{ label: "loss", color: "#000" }],
      });
      for (let i = 0; i < 50; i++) chart.append(i, [2.3 * Math.pow(10, -i / 10)]);
      chart.draw();
      const afterDecades = figure.dataset.log;
      figure.querySelector("[data-log-toggle]").click();  // the person's choice wins
      chart.append(50, [1e-6]);
      chart.draw();
      return [afterDecades, figure.dataset.log];
    }"""
    )
    assert drawn == ["true", "false"]


def test_the_system_chart_draws_the_processes_cpu_and_memory_while_a_run_trains(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, SLOW_PARAMS)
    page.goto(f"{server.url}/runs/{run_id}")
    chart = page.locator("#chart-system")
    page.wait_for_function(
        "() => Number(document.getElementById('chart-system').dataset.points) >= 2",
        timeout=20_000,
    )
    expect(chart.locator("[data-chart-last]")).to_contain_text("RSS MB")
    samples = [m for m in api.get(f"/api/runs/{run_id}/events").json() if m["type"] == "system"]
    assert samples and all(m["rss_bytes"] > 0 for m in samples)
    api.post(f"/api/runs/{run_id}/stop")

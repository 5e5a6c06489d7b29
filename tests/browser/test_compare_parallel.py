"""The compare page's parallel coordinates in a real Chromium: drawn for three runs or more
(an axis per parameter that differs and one for the chosen statistic, a line per run), not
for two."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def _runs(api: httpx.Client, lrs: list[float]) -> list[str]:
    ids = [
        start_run(api, {"epochs": 2, "bs": 64, "dataset": "digits", "lr": lr, "seed": i})
        for i, lr in enumerate(lrs)
    ]
    for run_id in ids:
        wait_for_run(api, run_id, {"completed"})
    return ids


def test_three_runs_get_a_line_each_across_the_differing_params_and_the_metric(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    ids = _runs(api, [0.5, 0.1, 0.02])
    page.goto(f"{server.url}/compare?ids={','.join(ids)}")
    plot = page.locator("#compare-parallel")
    expect(plot).to_be_visible()
    expect(plot.locator("svg polyline")).to_have_count(3)
    axes = plot.locator("svg text[data-axis]")
    expect(axes).to_have_text(["lr", "seed", "best valid loss"])  # epochs, bs, dataset equal
    expect(plot.locator("figcaption")).to_contain_text("against the best valid loss")

    page.select_option("#compare-metric", "valid accuracy")
    expect(axes).to_have_text(["lr", "seed", "best valid accuracy"])
    expect(plot.locator("svg polyline")).to_have_count(3)
    # Each line says whose it is and where it ends: the run and its best valid accuracy.
    titles = plot.locator("svg polyline title").all_text_contents()
    assert len(titles) == 3 and all(": 0." in title for title in titles)


def test_two_runs_get_no_parallel_coordinates(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    ids = _runs(api, [0.5, 0.1])
    page.goto(f"{server.url}/compare?ids={','.join(ids)}")
    expect(page.locator("#compare-table thead th")).to_have_count(3)
    expect(page.locator("#compare-parallel")).to_be_hidden()
    expect(page.locator("#compare-parallel svg")).to_have_count(0)

"""Sweeps in a real Chromium: create one from the runs page's form, watch its trials appear
live on the sweep page, with the history and parallel-coordinates plots."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.fixtures.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_a_sweep_from_the_form_shows_its_trials_live_with_history_and_parallel_coordinates(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.click("#sweep-launch summary")
    expect(page.locator('#sweep-params [data-param="lr"]')).to_be_visible()
    page.select_option("#sweep-recipe", "mlp")
    lr = page.locator('#sweep-params [data-param="lr"]')
    lr.locator("select").select_option("range")
    lr.get_by_label("lr low").fill("0.05")
    lr.get_by_label("lr high").fill("1")
    bs = page.locator('#sweep-params [data-param="bs"]')
    bs.locator("select").select_option("choices")
    bs.get_by_label("bs choices").fill("8, 16")
    page.fill("#sweep-epochs", "3")
    page.fill("#sweep-trials", "4")
    page.fill("#sweep-name", "from-the-form")
    page.select_option("#sweep-pruner", "none")
    page.click("#sweep-submit")

    page.wait_for_url(re.compile(r"/sweeps/[0-9a-f]+$"))
    sweep_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#sweep-name")).to_have_text("from-the-form")
    rows = page.locator("#trials-body tr")
    expect(rows.first).to_be_visible()  # the first trial, before the sweep ends
    expect(page.locator("#sweep-status")).to_have_text("completed", timeout=120_000)
    expect(rows).to_have_count(4)
    expect(page.locator('#trials-body tr[data-state="complete"]')).to_have_count(4)

    sweep = api.get(f"/api/sweeps/{sweep_id}").json()
    lr_range = {"type": "float", "low": 0.05, "high": 1, "log": True, "step": None}
    assert sweep["space"]["lr"] == lr_range
    assert sweep["space"]["bs"] == {"type": "categorical", "choices": [8, 16]}
    assert all(t["run_id"] for t in sweep["trials"])
    expect(page.locator("#best-value")).to_have_text(re.compile(r"0\.\d+"))
    # The history: a uPlot canvas; parallel coordinates: one line per complete trial.
    expect(page.locator("#history-chart canvas").first).to_be_visible()
    expect(page.locator("#intermediate-chart canvas").first).to_be_visible()
    expect(page.locator("#parallel-chart svg polyline")).to_have_count(4)
    expect(page.locator("#importance-chart .importance-row")).to_have_count(2)

    # Sort the table by the objective, best first when clicked twice (max).
    page.click('#trials-head [data-sort="value"]')
    page.click('#trials-head [data-sort="value"]')
    best = max(sweep["trials"], key=lambda t: t["value"])
    expect(rows.first).to_have_attribute("data-trial", str(best["number"]))
    assert errors == []


def test_a_bad_range_is_shown_next_to_its_param(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    page.goto(server.url + "/")
    page.click("#sweep-launch summary")
    lr = page.locator('#sweep-params [data-param="lr"]')
    lr.locator("select").select_option("range")
    lr.get_by_label("lr low").fill("0.1")
    lr.get_by_label("lr high").fill("50")  # the recipe allows at most 10
    page.click("#sweep-submit")
    expect(lr.locator(".field-error")).to_contain_text("lr")
    assert api.get("/api/sweeps").json()["total"] == 0


def test_the_runs_page_lists_sweeps_live_and_links_to_each(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    expect(page.locator("#sweeps-empty")).to_be_visible()

    # Created while the page is open: it appears without a reload, then ends there.
    body = {
        "recipe": "mlp",
        "name": "listed-sweep",
        "params": {"epochs": 2, "bs": 64, "dataset": "digits"},
        "space": {"lr": {"type": "float", "low": 0.05, "high": 0.5, "log": True}},
        "n_trials": 2,
        "pruner": "none",
    }
    response = api.post("/api/sweeps", json=body)
    assert response.status_code == 201, response.text
    sweep_id = response.json()["id"]
    row = page.locator(f'#sweeps-body tr[data-sweep-id="{sweep_id}"]')
    expect(row).to_be_visible()
    expect(page.locator("#sweeps-empty")).to_be_hidden()
    expect(row.locator('td[data-label="Recipe"]')).to_have_text("mlp")
    expect(row.locator(".status-cell .badge")).to_have_text("completed", timeout=60_000)
    expect(row.locator(".trials-cell")).to_have_text("2 / 2")
    best = api.get(f"/api/sweeps/{sweep_id}").json()["best"]["value"]
    expect(row.locator(".best-cell")).to_have_text(f"{best:.4f}" if best < 1 else f"{best:.3f}")

    row.get_by_role("link", name="listed-sweep").click()
    page.wait_for_url(server.url + f"/sweeps/{sweep_id}")
    expect(page.locator("#sweep-name")).to_have_text("listed-sweep")
    assert errors == []

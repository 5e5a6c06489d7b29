"""The runs list in a real Chromium: sort, search, tags from the run page, delete, bulk delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW_PARAMS, start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

QUICK = {"epochs": 1, "dataset": "digits", "bs": 64}


def _names(page: Any) -> list[str]:
    return [
        str(name) for name in page.locator("#runs-body tr td[data-label=Name] a").all_inner_texts()
    ]


def _finished_runs(api: httpx.Client, *names: str, **params: Any) -> list[str]:
    ids = [start_run(api, QUICK | params, name=name) for name in names]
    for run_id in ids:
        wait_for_run(api, run_id, {"completed"})
    return ids


def test_sorting_by_a_column_and_searching_params(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    _finished_runs(api, "bravo", "alpha", "charlie")
    start_run(api, QUICK | {"lr": 0.7}, name="delta")
    page.goto(server.url + "/")
    expect(page.locator("#runs-body tr")).to_have_count(4)
    assert _names(page) == ["delta", "charlie", "alpha", "bravo"]  # newest first

    page.click('th[data-sort="name"] button')
    expect(page.locator('th[data-sort="name"]')).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#runs-body tr").first).to_contain_text("alpha")
    assert _names(page) == ["alpha", "bravo", "charlie", "delta"]
    page.click('th[data-sort="name"] button')
    expect(page.locator("#runs-body tr").first).to_contain_text("delta")

    page.fill("#runs-search", '"lr": 0.7')  # a parameter value
    expect(page.locator("#runs-body tr")).to_have_count(1)
    assert _names(page) == ["delta"]
    page.fill("#runs-search", "zzz-nothing")
    expect(page.locator("#runs-empty")).to_have_text("No runs match.")


def test_tags_saved_on_the_run_page_are_found_by_search_and_filter(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    tagged, _ = _finished_runs(api, "tagged", "plain")
    page.goto(f"{server.url}/runs/{tagged}")
    page.fill("#run-tags", "baseline, wide")
    page.fill("#run-note", "the one to beat")
    page.click("#notes-save")
    expect(page.locator("#notes-ack")).to_have_text("Saved.")
    assert api.get(f"/api/runs/{tagged}").json()["tags"] == ["baseline", "wide"]

    page.fill("#run-tags", "not ok!")
    page.click("#notes-save")
    expect(page.locator("#notes-form [data-form-error]")).to_contain_text("Not saved")
    assert api.get(f"/api/runs/{tagged}").json()["tags"] == ["baseline", "wide"]  # unchanged

    page.goto(server.url + "/")
    page.fill("#runs-search", "BEAT")
    expect(page.locator("#runs-body tr")).to_have_count(1)
    page.fill("#runs-search", "")
    expect(page.locator("#runs-body tr")).to_have_count(2)
    page.locator(f'tr[data-run-id="{tagged}"] .tag', has_text="wide").click()
    expect(page.locator("#tag-filter")).to_be_visible()
    expect(page.locator("#runs-body tr")).to_have_count(1)
    page.click("#tag-filter-clear")
    expect(page.locator("#runs-body tr")).to_have_count(2)


def test_delete_asks_first_and_bulk_delete_keeps_a_running_run(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    one, two, three = _finished_runs(api, "one", "two", "three")
    running = start_run(api, SLOW_PARAMS, name="running")
    wait_for_run(api, running, {"running"})
    page.goto(server.url + "/")
    expect(page.locator("#runs-body tr")).to_have_count(4)
    expect(page.locator(f'tr[data-run-id="{running}"] .row-delete')).to_be_hidden()

    page.locator(f'tr[data-run-id="{one}"] .row-delete').click()
    expect(page.locator("#delete-dialog")).to_be_visible()
    expect(page.locator("#delete-dialog-title")).to_have_text("Delete this run?")
    page.click('#delete-dialog button[value="cancel"]')
    expect(page.locator("#runs-body tr")).to_have_count(4)  # kept
    assert api.get(f"/api/runs/{one}").status_code == 200

    for run_id in (two, three, running):
        page.locator(f'tr[data-run-id="{run_id}"] input[type="checkbox"]').check()
    expect(page.locator("#delete-selected")).to_have_text("Delete finished (2)")
    page.click("#delete-selected")
    expect(page.locator("#delete-dialog-title")).to_have_text("Delete 2 runs?")
    page.click("#delete-confirm")
    expect(page.locator("#delete-result")).to_have_text("Deleted 2 runs.")
    expect(page.locator("#runs-body tr")).to_have_count(2)
    assert api.get(f"/api/runs/{two}").status_code == 404
    assert api.get(f"/api/runs/{running}").json()["status"] == "running"
    api.post(f"/api/runs/{running}/stop")

"""Fork from the run page in a real Chromium: the child starts at the parent's next batch
with the lr typed in, its page shows the lineage, and compare draws its curve from the fork
point on; a bad lr is shown at its field and forks nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW_PARAMS, start_run, wait_for_run
from tests.fixtures.server import LiveServer, wait_for_epoch

pytestmark = pytest.mark.browser

CHECKPOINT = [{"name": "checkpoint", "params": {}}]


def test_a_fork_from_the_run_page_shows_in_compare_from_its_fork_point(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    parent = start_run(api, SLOW_PARAMS | {"epochs": 8}, name="parent", callbacks=CHECKPOINT)
    wait_for_epoch(api, parent, 1)  # two epochs done
    page.goto(f"{server.url}/runs/{parent}")
    expect(page.locator("#fork-form")).to_be_visible()
    page.fill("#fork-lr", "0.05")
    page.fill("#fork-name", "lr 0.05")
    page.click("#fork-submit")
    expect(page.locator("#fork-result")).to_contain_text("Forked: lr 0.05 from epoch")
    child = api.get(f"/api/runs/{parent}/forks").json()[0]
    assert child["params"]["lr"] == 0.05 and child["fork_point"]["epoch"] >= 2
    expect(page.locator(f'#fork-list li[data-run-id="{child["id"]}"]')).to_be_visible()
    expect(page.locator("#event-log")).to_contain_text(f"forked as {child['id']} at epoch")

    api.post(f"/api/runs/{parent}/stop").raise_for_status()  # the child waits for a worker
    wait_for_epoch(api, child["id"], child["fork_point"]["epoch"] + 1)
    page.click("#fork-child-compare")
    page.wait_for_url("**/compare?ids=*")
    expect(page.locator("#compare-runs li")).to_have_count(2)
    expect(page.locator(f'#compare-runs li[data-run-id="{child["id"]}"]')).to_contain_text(
        "fork of parent from epoch"
    )
    first_child_epoch = child["fork_point"]["epoch"] + 1  # the page counts epochs from 1
    chart = page.locator('[data-statistic="valid loss"]')
    expect(chart).to_have_attribute("data-first-epochs", f"1,{first_child_epoch}")

    page.goto(f"{server.url}/runs/{child['id']}")
    expect(page.locator("#fork-parent")).to_contain_text("Forked from")
    expect(page.locator("#fork-parent")).to_contain_text("with lr 0.05")
    expect(page.locator("#fork-parent-link")).to_have_attribute("href", f"/runs/{parent}")
    api.post(f"/api/runs/{child['id']}/stop")


def test_a_bad_lr_is_shown_at_its_field_and_forks_nothing(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    parent = start_run(api, SLOW_PARAMS | {"epochs": 1, "bs": 64}, callbacks=CHECKPOINT)
    wait_for_run(api, parent, {"completed"})
    page.goto(f"{server.url}/runs/{parent}")
    page.fill("#fork-lr", "-1")
    page.click("#fork-submit")
    error = page.locator('#fork-form .field[data-path="params.lr"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("greater than 0")
    page.fill("#fork-lr", "0.1")
    page.fill("#fork-epochs", "1")
    page.click("#fork-submit")
    epochs_error = page.locator('#fork-form .field[data-path="params.epochs"] .field-error')
    expect(epochs_error).to_contain_text("ask for more than 1 epoch in all")
    assert api.get(f"/api/runs/{parent}/forks").json() == []
    assert api.get("/api/runs").json()["total"] == 1

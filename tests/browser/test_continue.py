"""Continuing from a run in a real Chromium: extend a finished run by N epochs, run again
with the launch form prefilled; and the form's data_path only for datasets that read files."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

FIVE = {"epochs": 5, "dataset": "digits", "bs": 64, "lr": 0.4, "seed": 3}
CHECKPOINT = [{"name": "checkpoint", "params": {}}]


def test_extend_by_5_of_a_completed_5_epoch_run_ends_at_epoch_10(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, FIVE, callbacks=CHECKPOINT)
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#chart-epoch-loss")).to_have_attribute("data-points", "5")
    expect(page.locator("#extend-form")).to_be_visible()
    page.fill("#extend-epochs", "5")
    page.click("#extend-submit")
    expect(page.locator("#extend-result")).to_have_text("Queued to epoch 10.")
    expect(page.locator("#chart-epoch-loss")).to_have_attribute("data-points", "10")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#run-epoch")).to_have_text("10 / 10")
    expect(page.locator("#event-log")).to_contain_text(
        "resumed from last.pt after epoch 5, to epoch 10"
    )
    epochs = api.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
    assert [e["epoch"] for e in epochs] == list(range(10))


def test_extend_without_a_checkpoint_says_why(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, FIVE | {"epochs": 1})
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    page.click("#extend-submit")
    expect(page.locator("#extend-result")).to_contain_text("it has no checkpoint")


def test_run_again_prefills_the_launch_form_with_the_runs_request(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, FIVE | {"epochs": 2}, name="original", callbacks=CHECKPOINT)
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    page.click("#run-again")
    page.wait_for_url(f"**/?from={run_id}")
    expect(page.locator("#launch-form")).to_have_attribute("data-prefilled-from", run_id)
    expect(page.locator('[name="params.lr"]')).to_have_value("0.4")
    expect(page.locator('[name="params.seed"]')).to_have_value("3")
    expect(page.locator('#launch-callback-list [data-callback="checkpoint"]')).to_have_count(1)
    expect(page.locator("#run-name")).to_have_value("original again")
    page.click("#launch-submit")
    page.wait_for_url("**/runs/*")
    again = page.url.rsplit("/", 1)[-1]
    assert again != run_id
    original, copy = (api.get(f"/api/runs/{i}").json() for i in (run_id, again))
    assert copy["params"] == original["params"]
    assert [cb["name"] for cb in copy["callbacks"]] == ["checkpoint"]


def test_data_path_shows_only_for_a_dataset_that_reads_files(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/")
    data_path = page.locator('[data-path="params.data_path"]')
    expect(page.locator('[name="params.dataset"]')).to_be_visible()
    expect(data_path).to_be_hidden()
    page.select_option('[name="params.dataset"]', label="mnist")
    expect(data_path).to_be_visible()
    page.select_option('[name="params.dataset"]', label="digits")
    expect(data_path).to_be_hidden()

"""A CSV or an .npz of your own, uploaded from the launch form in a real Chromium, trains a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.api.test_own_data import _blobs
from tests.app.api.test_own_npz import blobs_npz
from tests.browser.conftest import wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def _launch_and_finish(page: Any, api: httpx.Client) -> dict[str, Any]:
    """Start the launch form's run (3 epochs, bs 16) and wait until it completes."""
    page.fill('[name="params.epochs"]', "3")
    page.fill('[name="params.bs"]', "16")
    page.click("#launch-submit")
    page.wait_for_url("**/runs/*")
    run = wait_for_run(api, page.url.rsplit("/", 1)[-1], {"completed", "failed"})
    assert run["status"] == "completed", run["error"]
    return run


def test_a_csv_uploaded_from_the_browser_trains_a_run(
    page: Any, server: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    _blobs(tmp_path / "my blobs.csv")
    page.goto(server.url + "/")
    page.select_option('[name="params.dataset"]', label="csv")
    expect(page.locator('[data-path="params.data_path"]')).to_be_visible()
    page.set_input_files("#dataset-upload", str(tmp_path / "my blobs.csv"))
    expect(page.locator("#dataset-upload-result")).to_contain_text(
        "Uploaded my-blobs.csv: 400 rows"
    )
    expect(page.locator('[name="params.data_path"]')).to_have_value("my-blobs.csv")
    expect(page.locator('[name="params.label"]')).to_have_value("kind")  # the last column
    run = _launch_and_finish(page, api)
    assert run["latest"]["valid"]["accuracy"] > 0.9
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")


def test_an_npz_uploaded_from_the_browser_trains_a_run(
    page: Any, server: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    (tmp_path / "my arrays.npz").write_bytes(blobs_npz())
    page.goto(server.url + "/")
    page.select_option('[name="params.dataset"]', label="csv")
    page.set_input_files("#dataset-upload", str(tmp_path / "my arrays.npz"))
    expect(page.locator("#dataset-upload-result")).to_contain_text(
        "Uploaded my-arrays.npz: 400 rows; arrays x, y"
    )
    expect(page.locator('[name="params.data_path"]')).to_have_value("my-arrays.npz")
    expect(page.locator('[name="params.label"]')).to_have_value("")  # the array y, by default
    run = _launch_and_finish(page, api)
    assert run["params"]["data_path"] == "my-arrays.npz"
    assert run["latest"]["valid"]["accuracy"] > 0.9

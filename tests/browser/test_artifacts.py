"""The run page's downloads in a real Chromium: a checkpoint torch can read, metrics as CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from playwright.sync_api import expect

from tests.browser.conftest import start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

QUICK = {"epochs": 3, "dataset": "digits", "bs": 64}


def _download(page: Any, artifact: str, into: Path) -> Path:
    with page.expect_download() as info:
        page.click(f'[data-artifact="{artifact}"]')
    path = into / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_the_checkpoint_link_downloads_a_file_torch_loads_with_weights_only(
    page: Any, server: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    run_id = start_run(api, QUICK, callbacks=[{"name": "checkpoint", "params": {}}])
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator('[data-artifact="last.pt"]')).to_be_visible()
    expect(page.locator('[data-artifact="best.pt"]')).to_have_count(0)  # none was saved
    path = _download(page, "last.pt", tmp_path)
    assert path.name == f"{run_id}-last.pt"
    state = torch.load(path, weights_only=True)
    assert state["model"]["0.weight"].shape == (50, 64)

    text = _download(page, "metrics.csv", tmp_path).read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]  # one row per epoch
    assert float(rows[-1]["valid_accuracy"]) > 0.5


def test_a_run_without_a_checkpoint_says_how_to_get_one(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, QUICK | {"epochs": 1})
    wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#artifact-list")).to_contain_text("No checkpoint yet")
    expect(page.locator('[data-artifact="metrics.json"]')).to_be_visible()

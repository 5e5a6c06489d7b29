"""Small things the pages must say truly, in a real Chromium: the live dot is the run's, the
token button is there only when the server wants a token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW_PARAMS, start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def test_the_live_dot_turns_off_when_the_run_finishes(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, SLOW_PARAMS)
    page.goto(f"{server.url}/runs/{run_id}")
    live = page.locator("#run-live")
    expect(live).to_have_attribute("data-training", "true")
    expect(live).to_have_text("live")
    response = api.post(f"/api/runs/{run_id}/stop")
    assert response.status_code == 202, response.text
    assert wait_for_run(api, run_id, {"stopped"})["status"] == "stopped"
    expect(page.locator("#run-status")).to_have_attribute("data-status", "stopped")
    expect(live).to_have_attribute("data-training", "false")
    expect(live).to_have_text("not training")
    expect(live).to_have_attribute("data-state", "open")  # still listening: a resume shows


def test_the_token_button_shows_only_when_the_server_asks_for_a_token(
    page: Any, server: LiveServer, server_factory: Any
) -> None:
    page.goto(server.url + "/")
    expect(page.locator("#runs-live")).to_have_attribute("data-state", "open")
    expect(page.locator("#token-button")).to_have_count(0)
    guarded = server_factory(token="browser-test-token-0123456789abcdef")
    page.goto(guarded.url + "/")
    expect(page.locator("#token-button")).to_be_visible()

"""The pages under their Content-Security-Policy in a real Chromium: nothing they do is refused
(scripts, styles, the live WebSockets, the compare page's colour keys)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import start_run, wait_for_run
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

# Collects every violation the page reports, from before its first script runs.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_no_page_breaks_its_content_security_policy(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    first, second = (start_run(api, {"epochs": 1}) for _ in range(2))
    for run_id in (first, second):
        wait_for_run(api, run_id, {"completed"})

    page.goto(server.url + "/")
    expect(page.locator("#runs-live")).to_have_attribute("data-state", "open")  # WebSocket up
    assert page.evaluate("window.__violations") == []

    page.goto(f"{server.url}/runs/{first}")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    assert page.evaluate("window.__violations") == []

    page.goto(f"{server.url}/compare?ids={first},{second}")
    swatch = page.locator(f'[data-run-id="{first}"] .swatch')
    expect(swatch).to_be_visible()
    colour = swatch.evaluate("node => getComputedStyle(node).backgroundColor")
    assert colour not in ("", "rgba(0, 0, 0, 0)"), colour  # its colour was applied
    assert page.evaluate("window.__violations") == []
    assert refused == []

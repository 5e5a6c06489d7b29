"""The run page in a real Chromium: stop, attach early stopping, history, reconnects."""

from __future__ import annotations

import os
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW_PARAMS, chart_points, events, start_run, wait_for_run
from tests.browser.test_runs_page import wait_for_points
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser


def open_running(page: Any, server: LiveServer, run_id: str) -> None:
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#run-live")).to_have_attribute("data-state", "open")


def batch_iters(api: httpx.Client, run_id: str) -> set[int]:
    """Every training batch the saved messages tell of: live `batch` messages and the
    `batches` of epoch messages (the same batch may be in both: one point per iter)."""
    iters = {m["iter"] for m in events(api, run_id, "batch")}
    for message in events(api, run_id, "epoch"):
        iters.update(message["batches"]["iter"])
    return iters


def wait_until_everything_is_drawn(page: Any, api: httpx.Client, run_id: str) -> None:
    """Once the run has finished, the charts hold exactly its saved batch points and epoch
    messages: one point per iter and per epoch (no duplicate) and none missing (no gap)."""
    batches, epochs = len(batch_iters(api, run_id)), len(events(api, run_id, "epoch"))
    page.wait_for_function(
        "([b, e]) => document.getElementById('chart-batch-loss').dataset.points == b"
        " && document.getElementById('chart-lr').dataset.points == b"
        " && document.getElementById('chart-epoch-loss').dataset.points == e",
        arg=[batches, epochs],
        timeout=15_000,
    )
    assert batches > 0


def test_stop_asks_first_then_says_where_the_run_stopped(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, SLOW_PARAMS)
    open_running(page, server, run_id)
    wait_for_points(page, "chart-batch-loss", 1)

    page.click("#stop-button")
    expect(page.locator("#stop-dialog")).to_be_visible()
    page.get_by_role("button", name="Keep running").click()
    expect(page.locator("#stop-dialog")).to_be_hidden()
    page.focus("#stop-button")  # and from the keyboard: Enter asks, Escape keeps it running
    page.keyboard.press("Enter")
    expect(page.locator("#stop-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#stop-dialog")).to_be_hidden()
    expect(page.locator("#stop-button")).to_be_focused()
    assert api.get(f"/api/runs/{run_id}").json()["status"] == "running"

    page.click("#stop-button")
    page.click("#stop-confirm")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "stopped")
    reason = wait_for_run(api, run_id, {"stopped"})["stop_reason"]
    result = page.locator("#stop-result")
    expect(result).to_contain_text(f"epoch {reason['epoch'] + 1}, iteration {reason['iter']}")
    expect(result).to_contain_text(re.compile(r"\d+\.\d\d s after the request"))
    expect(page.locator("#stop-button")).to_be_hidden()
    wait_until_everything_is_drawn(page, api, run_id)


def test_early_stopping_attached_to_a_running_run_shows_its_reason(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, SLOW_PARAMS)
    open_running(page, server, run_id)

    page.select_option("#attach-select", "early_stopping")
    # No epoch can improve by a million: it stops one epoch after the first it sees.
    page.fill('#attach-params [name="params.patience"]', "0")
    page.fill('#attach-params [name="params.min_delta"]', "1000000")
    page.click("#attach-submit")
    attached = page.locator("#callback-list li[data-callback-id]")
    expect(attached).to_have_count(1)
    expect(attached).to_contain_text("early_stopping")
    expect(page.locator('#event-log li[data-type="callback"]')).to_contain_text("attached")

    early_stop = page.locator('#event-log li[data-type="early_stop"]')
    expect(early_stop).to_have_count(1, timeout=30_000)
    run = wait_for_run(api, run_id, {"early_stopped"})
    expect(early_stop).to_contain_text(run["stop_reason"]["message"])
    expect(early_stop).to_contain_text("did not improve")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "early_stopped")
    expect(page.locator("#attach-form")).to_be_hidden()


def test_detach_removes_a_callback_from_the_running_run(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    callbacks = [{"name": "early_stopping", "params": {"patience": 50}}]
    run_id = start_run(api, SLOW_PARAMS, callbacks=callbacks)
    open_running(page, server, run_id)
    attached = page.locator("#callback-list li[data-callback-id]")
    expect(attached).to_have_count(1)
    attached.get_by_role("button", name="Detach early_stopping").click()
    expect(attached).to_have_count(0)
    expect(page.locator('#event-log li[data-type="callback"]')).to_contain_text("detached")
    assert api.get(f"/api/runs/{run_id}").json()["callbacks"] == []


def test_reload_mid_run_shows_the_whole_history_then_continues(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, SLOW_PARAMS)
    open_running(page, server, run_id)
    wait_for_points(page, "chart-epoch-loss", 2)

    page.reload()
    page.wait_for_selector("#run-root[data-history-seq]")
    history_seq = int(page.get_attribute("#run-root", "data-history-seq") or 0)
    saved = [m for m in events(api, run_id) if m["seq"] <= history_seq]
    assert chart_points(page, "chart-epoch-loss") >= sum(m["type"] == "epoch" for m in saved) >= 2
    assert chart_points(page, "chart-batch-loss") >= sum(m["type"] == "batch" for m in saved)
    epochs_after_reload = chart_points(page, "chart-epoch-loss")
    wait_for_points(page, "chart-epoch-loss", epochs_after_reload + 1)  # and it goes on live

    api.post(f"/api/runs/{run_id}/stop")
    wait_for_run(api, run_id, {"stopped"})
    wait_until_everything_is_drawn(page, api, run_id)


def test_a_dropped_websocket_resumes_after_the_last_seq_without_gap_or_duplicate(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    sockets: list[Any] = []

    def through_the_test(ws: Any) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws/runs/[0-9a-f]+"), through_the_test)
    run_id = start_run(api, SLOW_PARAMS)
    open_running(page, server, run_id)
    wait_for_points(page, "chart-epoch-loss", 1)

    sockets[0].close()  # the network blinks
    deadline = time.monotonic() + 10
    while len(sockets) < 2:
        assert time.monotonic() < deadline, "the page did not reconnect"
        page.wait_for_timeout(50)  # lets Playwright deliver the page's new connection
    expect(page.locator("#run-live")).to_have_attribute("data-state", "open")
    resumed_after = int(parse_qs(urlsplit(sockets[1].url).query)["after_seq"][0])
    assert resumed_after > 0

    epochs = chart_points(page, "chart-epoch-loss")
    wait_for_points(page, "chart-epoch-loss", epochs + 1)
    api.post(f"/api/runs/{run_id}/stop")
    wait_for_run(api, run_id, {"stopped"})
    wait_until_everything_is_drawn(page, api, run_id)


def test_a_finished_run_shows_its_whole_history(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    run_id = start_run(api, {"epochs": 3, "bs": 64, "dataset": "digits"})
    run = wait_for_run(api, run_id, {"completed"})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    wait_until_everything_is_drawn(page, api, run_id)
    assert chart_points(page, "chart-epoch-loss") == 3
    # The run publishes one or two live batch messages (throttled), yet every training batch
    # is drawn: ceil(1437 / 64) = 23 an epoch, from the epoch messages' `batches`.
    assert len(events(api, run_id, "batch")) < 23
    assert batch_iters(api, run_id) == set(range(1, 3 * 23 + 1))
    assert chart_points(page, "chart-batch-loss") == chart_points(page, "chart-lr") == 3 * 23
    expect(page.locator("#run-epoch")).to_have_text("3 / 3")
    expect(page.locator("#run-live")).to_have_attribute("data-state", "open")  # for a resume
    expect(page.locator("#stop-button")).to_be_hidden()
    expect(page.locator('#event-log li[data-type="epoch"]')).to_have_count(3)
    expect(page.locator("#run-config")).to_contain_text(run["id"])


def test_an_unknown_run_says_so(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/runs/does-not-exist")
    expect(page.locator("#run-error")).to_contain_text("There is no run with id does-not-exist")


def test_an_interrupted_run_resumes_from_the_page(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    callbacks = [{"name": "checkpoint", "params": {"every": "epoch"}}]
    run_id = start_run(api, SLOW_PARAMS, callbacks=callbacks)
    open_running(page, server, run_id)
    wait_for_points(page, "chart-epoch-loss", 1)  # a checkpoint exists after the first epoch

    server.restart()  # the server goes down under the run: it becomes interrupted
    page.goto(f"{server.url}/runs/{run_id}")  # the restarted server listens on a new port
    expect(page.locator("#run-status")).to_have_attribute("data-status", "interrupted")
    expect(page.locator("#stop-button")).to_be_hidden()
    epochs_before = chart_points(page, "chart-epoch-loss")
    page.click("#resume-button")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#stop-button")).to_be_visible()
    wait_for_points(page, "chart-epoch-loss", epochs_before + 1)  # new epochs, same page


def test_the_page_says_where_the_run_executes_once_it_begins(
    page: Any, server: LiveServer, api: httpx.Client
) -> None:
    blocker = start_run(api, SLOW_PARAMS)  # with 2 workers, the third run waits
    start_run(api, SLOW_PARAMS)
    run_id = start_run(api, {**SLOW_PARAMS, "epochs": 1})
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "queued")
    expect(page.locator("#run-placement")).to_have_text("\u2013")  # en dash: not placed yet
    api.post(f"/api/runs/{blocker}/stop").raise_for_status()
    # Told by the run's `running` status message, without a reload.
    expect(page.locator("#run-placement")).to_have_text(
        re.compile(rf"^threads on .+, pid {os.getpid()}$")
    )

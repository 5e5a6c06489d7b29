"""The run page's controls in a real Chromium: pause and resume, stop while paused, the
hyperparameter editor (a new lr, a refused one) and Evaluate now."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import FINISHED, chart_points, events, start_run, wait_for_run
from tests.browser.test_run_page import open_running
from tests.browser.test_runs_page import wait_for_points
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

# 180 batches an epoch, 100 epochs: about 10-20 s of training on a shared core, long enough to
# act on mid-run and short enough to wait for its end.
LONG_PARAMS = {"epochs": 100, "bs": 8, "dataset": "digits", "lr": 0.5}


@pytest.fixture
def run_id(api: httpx.Client) -> Iterator[str]:
    """A long run, stopped after the test whatever the test left it as."""
    created = start_run(api, LONG_PARAMS)
    yield created
    if api.get(f"/api/runs/{created}").json()["status"] not in FINISHED:
        api.post(f"/api/runs/{created}/stop")  # 409 if it finished meanwhile: that is fine too
        wait_for_run(api, created, FINISHED)


def wait_for_event(
    api: httpx.Client, run_id: str, kind: str, timeout: float = 15
) -> dict[str, Any]:
    """The run's first saved message of type `kind`, polling until there is one."""
    deadline = time.monotonic() + timeout
    while not (found := events(api, run_id, kind)):
        assert time.monotonic() < deadline, f"no {kind} message for run {run_id}"
        time.sleep(0.1)
    return found[0]


def pause_from_the_page(page: Any, api: httpx.Client, run_id: str) -> dict[str, Any]:
    """Press Pause; once the page says paused, the saved `paused` status message."""
    wait_for_points(page, "chart-batch-loss", 1)
    expect(page.locator("#resume-button")).to_be_hidden()
    page.click("#pause-button")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "paused")
    return next(m for m in events(api, run_id, "status") if m["status"] == "paused")


def test_pause_holds_the_run_where_it_says_and_resume_lets_it_go_on(
    page: Any, server: LiveServer, api: httpx.Client, run_id: str
) -> None:
    open_running(page, server, run_id)
    paused = pause_from_the_page(page, api, run_id)

    where = f"epoch {paused['epoch'] + 1}, iteration {paused['iter']}"
    expect(page.locator("#run-status")).to_have_text("paused")
    expect(page.locator("#run-held")).to_contain_text(f"Paused at {where}")
    expect(page.locator("#run-held")).to_contain_text("keeps its worker")
    expect(page.locator("#run-live")).to_have_text("live · paused")
    expect(page.locator("#pause-button")).to_be_hidden()
    expect(page.locator("#resume-button")).to_have_text("Resume")
    expect(page.locator("#evaluate-button")).to_be_disabled()
    expect(page.locator("#hyper-apply")).to_be_enabled()  # a paused run takes a change
    status_lines = page.locator('#event-log li[data-type="status"]')
    expect(status_lines.last).to_contain_text(f"paused — at {where}")

    points = chart_points(page, "chart-batch-loss")
    page.wait_for_timeout(2_000)
    assert chart_points(page, "chart-batch-loss") == points, "batch points came while paused"
    assert all(m["iter"] <= paused["iter"] for m in events(api, run_id, "batch"))

    page.click("#resume-button")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#run-held")).to_be_hidden()
    expect(page.locator("#run-live")).to_have_text("live")
    expect(page.locator("#pause-button")).to_be_visible()
    expect(page.locator("#resume-button")).to_be_hidden()
    expect(status_lines.last).to_contain_text(f"running — resumed at {where}")
    wait_for_points(page, "chart-batch-loss", points + 1)  # it goes on where it held
    assert page.get_attribute("#chart-batch-loss", "data-last-x") != str(paused["iter"])

    run = wait_for_run(api, run_id, {"completed"}, timeout=120)
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#run-epoch")).to_have_text("100 / 100")
    assert run["stop_reason"] is None
    for control in ("#pause-button", "#resume-button", "#evaluate-button", "#hyper-form"):
        expect(page.locator(control)).to_be_hidden()


def test_stop_while_paused_stops_the_run_and_closes_the_controls(
    page: Any, server: LiveServer, api: httpx.Client, run_id: str
) -> None:
    open_running(page, server, run_id)
    paused = pause_from_the_page(page, api, run_id)

    page.click("#stop-button")
    page.click("#stop-confirm")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "stopped")
    reason = wait_for_run(api, run_id, {"stopped"})["stop_reason"]
    assert (reason["epoch"], reason["iter"]) == (paused["epoch"], paused["iter"])  # where it held
    expect(page.locator("#stop-result")).to_contain_text(f"iteration {paused['iter']}")
    expect(page.locator("#run-held")).to_be_hidden()
    for control in ("#stop-button", "#pause-button", "#resume-button", "#evaluate-button"):
        expect(page.locator(control)).to_be_hidden()
    expect(page.locator("#hyper-form")).to_be_hidden()
    expect(page.locator("#hyper-closed")).to_be_visible()


def test_a_new_lr_from_the_editor_is_acknowledged_and_drawn(
    page: Any, server: LiveServer, api: httpx.Client, run_id: str
) -> None:
    open_running(page, server, run_id)
    lr = page.locator('#hyper-form [name="lr"]')
    expect(lr).to_have_value("0.5")  # as launched, from the run's batches
    expect(page.locator('#hyper-form [name="momentum"]')).to_have_value("")  # not a run param

    lr.fill("0.05")
    page.click("#hyper-apply")
    hyper = wait_for_event(api, run_id, "hyper")
    assert hyper["values"] == {"lr": 0.05}
    ack = page.locator("#hyper-ack")
    expect(ack).to_have_text(f"lr 0.05 from iteration {hyper['iter']}")
    expect(page.locator("#run-config")).to_contain_text(
        f"0.05 (from iteration {hyper['iter']}; launched with 0.5)"
    )
    expect(page.locator('#event-log li[data-type="hyper"]')).to_contain_text(
        f"lr 0.05 from iteration {hyper['iter']}"
    )

    # The LR chart steps down: its last point is a batch after the change, at the new lr.
    page.wait_for_function(
        "(iter) => { const c = document.getElementById('chart-lr').dataset;"
        " return Number(c.lastX) > iter && Number(c.lastY) === 0.05; }",
        arg=hyper["iter"],
    )
    expect(page.locator("#chart-lr [data-chart-last]")).to_have_text("lr 0.0500")
    expect(lr).to_have_value("0.05")


def test_a_bad_lr_is_shown_next_to_its_field_and_changes_nothing(
    page: Any, server: LiveServer, api: httpx.Client, run_id: str
) -> None:
    open_running(page, server, run_id)
    lr = page.locator('#hyper-form [name="lr"]')
    expect(lr).to_have_value("0.5")

    lr.fill("-1")
    page.click("#hyper-apply")
    error = page.locator('#hyper-form [data-path="lr"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("greater than 0")
    expect(lr).to_have_attribute("aria-invalid", "true")
    expect(lr).to_have_value("-1")  # kept, to correct
    expect(page.locator('#hyper-form [data-path="momentum"] .field-error')).to_be_hidden()

    points = chart_points(page, "chart-lr")
    wait_for_points(page, "chart-lr", points + 2)  # batches go on at the old lr
    assert page.get_attribute("#chart-lr", "data-last-y") == "0.5"
    assert events(api, run_id, "hyper") == []
    expect(page.locator("#hyper-ack")).to_have_text("")
    expect(page.locator('#event-log li[data-type="hyper"]')).to_have_count(0)
    expect(page.locator("#run-config")).not_to_contain_text("from iteration")


def test_evaluate_now_adds_an_evaluation_to_the_event_log(
    page: Any, server: LiveServer, api: httpx.Client, run_id: str
) -> None:
    open_running(page, server, run_id)
    evaluate = page.locator("#evaluate-button")
    expect(evaluate).to_be_enabled()

    evaluate.click()
    entry = page.locator('#event-log li[data-type="evaluation"]')
    expect(entry).to_have_count(1)
    evaluation = wait_for_event(api, run_id, "evaluation")
    expect(entry).to_contain_text("valid loss")
    expect(entry).to_contain_text("accuracy")
    expect(entry).to_contain_text(
        f"epoch {evaluation['epoch'] + 1}, iteration {evaluation['iter']}"
    )
    expect(entry).to_contain_text(f"{evaluation['valid']['accuracy']:.4f}")
    expect(evaluate).to_be_enabled()  # it can be asked for again
    assert page.locator("#run-status").get_attribute("data-status") == "running"


def test_set_hyperparameter_attached_live_shows_as_applied_with_no_detach(
    page: Any, server: LiveServer, api: httpx.Client, run_id: str
) -> None:
    open_running(page, server, run_id)
    page.select_option("#attach-select", "set_hyperparameter")
    page.fill('#attach-params [name="params.value"]', "0.02")
    page.click("#attach-submit")
    hyper = wait_for_event(api, run_id, "hyper")
    (attached,) = api.get(f"/api/runs/{run_id}").json()["callbacks"]
    assert hyper["values"] == {"lr": 0.02} and hyper["callback_id"] == attached["id"]

    item = page.locator(f'#callback-list li[data-callback-id="{attached["id"]}"]')
    expect(item).to_have_attribute("data-done", "")
    where = f"epoch {hyper['epoch'] + 1}, iteration {hyper['iter']}"
    expect(item).to_contain_text(f"applied at {where}")
    expect(item.get_by_role("button", name="Detach set_hyperparameter")).to_have_count(0)
    # The configuration shows the live value, as for an edit from the hyperparameter form.
    expect(page.locator("#run-config")).to_contain_text(
        f"0.02 (from iteration {hyper['iter']}; launched with 0.5)"
    )
    # And so it stays after a reload: the page rebuilds it from the saved messages.
    page.reload()
    expect(item).to_have_attribute("data-done", "")
    expect(item.get_by_role("button")).to_have_count(0)

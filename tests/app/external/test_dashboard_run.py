"""`DashboardRun`: a plain PyTorch loop, no `trainer` Runner, watched and stopped from the
dashboard of a real server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.fixtures.server import LiveServer, wait_for_status
from trainer import DashboardRun

TIMEOUT = 120


def _loop(r: DashboardRun, epochs: int, done: threading.Event) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(256, 8), torch.randint(0, 2, (256,))
    model = nn.Linear(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for start in range(0, 256, 32):
            loss = F.cross_entropy(model(x[start : start + 32]), y[start : start + 32])
            loss.backward()
            opt.step()
            opt.zero_grad()
            r.log_batch(loss.item(), lr=0.1)
            time.sleep(0.005)
            if r.should_stop:
                break
        if r.should_stop:
            break
        r.log_epoch(epoch, train={"loss": loss.item()}, valid={"loss": loss.item()})
    done.set()


@pytest.mark.timeout(TIMEOUT)
def test_a_plain_loop_reports_its_epochs(server: LiveServer, tmp_path: Path) -> None:
    done = threading.Event()
    with DashboardRun(server.url, name="plain", params={"lr": 0.1}, spool_dir=tmp_path) as r:
        _loop(r, 3, done)
    run = wait_for_status(server.client(), r.run_id or "", "completed")
    assert run["latest"]["epoch"] == 2 and run["external"] is True
    events = server.client().get(f"/api/runs/{r.run_id}/events").json()
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
    epochs = [m for m in events if m["type"] == "epoch"]
    assert [m["epoch"] for m in epochs] == [0, 1, 2]
    assert epochs[0]["batches"]["iter"] == list(range(1, 9))  # the epoch's 8 batches
    assert epochs[1]["batches"]["iter"] == list(range(9, 17))


@pytest.mark.timeout(TIMEOUT)
def test_stop_in_the_dashboard_sets_should_stop(server: LiveServer, tmp_path: Path) -> None:
    done = threading.Event()
    r = DashboardRun(server.url, spool_dir=tmp_path)

    def train() -> None:
        with r:
            _loop(r, 1000, done)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while r.run_id is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    assert server.client().post(f"/api/runs/{r.run_id}/stop").status_code == 202
    assert done.wait(5) and r.should_stop
    thread.join(TIMEOUT)
    run = wait_for_status(server.client(), r.run_id, "stopped")
    assert run["stop_reason"]["source"] == "user"

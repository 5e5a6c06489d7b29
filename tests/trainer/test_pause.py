"""Runner.pause / resume from another thread: the loop holds at a batch boundary and goes
on exactly where it held, to the same weights as a run never paused."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from trainer import AvgStatsCallback, Callback, Runner, accuracy

pytestmark = pytest.mark.timeout(60)


class Probe(Callback):
    """Pauses the run from another thread after `at` training batches; records events."""

    def __init__(self, at: int) -> None:
        self.at, self.events, self.batches = at, [], 0
        self.held = threading.Event()
        self.run_ref: Runner | None = None

    def after_batch(self):
        if self.in_train:
            self.batches += 1
            if self.batches == self.at:
                threading.Thread(target=self.run.pause).start()
                time.sleep(0.05)  # the pause lands at the next boundary, from another thread

    def begin_pause(self):
        self.events.append(("pause", self.n_iter))
        self.held.set()

    def after_pause(self):
        self.events.append(("resume", self.n_iter))


def _fit(make_learn, *cbs: Callback, epochs: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    learn = make_learn()
    Runner(cbs=[*cbs], cb_funcs=[lambda: AvgStatsCallback([accuracy], verbose=False)]).fit(
        epochs, learn
    )
    return learn.model


def test_a_paused_run_holds_then_ends_identical_to_an_unpaused_one(make_learn) -> None:
    probe = Probe(at=5)
    result: dict = {}

    def train() -> None:
        result["model"] = _fit(make_learn, probe)

    thread = threading.Thread(target=train)
    thread.start()
    assert probe.held.wait(10)
    batches_when_held = probe.batches
    time.sleep(0.5)
    assert probe.batches == batches_when_held  # no batch while paused
    run = probe.run
    assert run.paused
    run.resume()
    thread.join(20)
    assert not thread.is_alive()
    assert [kind for kind, _ in probe.events] == ["pause", "resume"]
    assert probe.events[0][1] == probe.events[1][1] == 5  # held and went on at one boundary
    never_paused = _fit(make_learn)
    for a, b in zip(result["model"].parameters(), never_paused.parameters(), strict=True):
        assert torch.equal(a, b)


def test_stop_while_paused_ends_the_fit_at_that_boundary(make_learn) -> None:
    probe = Probe(at=3)
    run = Runner(cbs=[probe])
    thread = threading.Thread(target=run.fit, args=(3, make_learn()))
    thread.start()
    assert probe.held.wait(10)
    run.request_stop("stopped while paused")
    thread.join(20)
    assert not thread.is_alive()
    assert run.stop_reason is not None and run.stop_reason.iter == 3
    assert run.stop_reason.message == "stopped while paused"

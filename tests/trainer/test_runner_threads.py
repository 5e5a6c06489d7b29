"""Control from another thread: stop, attach and detach take effect at the next batch boundary."""

from __future__ import annotations

import threading

import pytest

from trainer import Callback, Runner

pytestmark = pytest.mark.timeout(60)


class Pause(Callback):
    """Blocks the training thread in after_batch at one point until the test lets it go."""

    def __init__(self, when):
        self.when = when  # (in_train, iter) at which to pause
        self.reached, self.go = threading.Event(), threading.Event()
        self.batches_after_release = 0
        self.released = False

    def begin_batch(self):
        if self.released:
            self.batches_after_release += 1

    def after_batch(self):
        if (self.in_train, self.iter) == self.when and not self.released:
            self.reached.set()
            assert self.go.wait(10), "test thread never released the pause"
            self.released = True


def fit_in_thread(run, epochs, learn):
    errors = []

    def target():
        try:
            run.fit(epochs, learn)
        except BaseException as exc:  # surfaced by the test below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


def join(thread, errors):
    thread.join(20)
    assert not thread.is_alive(), "fit did not end"
    assert not errors, errors


@pytest.mark.parametrize(("phase", "in_train"), [("training", True), ("validation", False)])
def test_stop_from_another_thread_ends_fit_within_one_batch(make_learn, phase, in_train):
    pause = Pause((in_train, 1))
    run = Runner(cbs=pause)
    thread, errors = fit_in_thread(run, 3, make_learn())
    assert pause.reached.wait(10)
    run.stop = True  # from the test thread, while the loop is between batches
    pause.go.set()
    join(thread, errors)
    assert pause.batches_after_release == 0
    assert run.stop_reason.source == "user" and run.stop_reason.epoch == 0


def test_stop_while_running_freely_ends_within_one_batch(make_learn):
    seen = threading.Event()
    counts = {"after_stop": 0}

    class Watch(Callback):
        def begin_batch(self):
            seen.set()
            if self.run.stop:
                counts["after_stop"] += 1

    run = Runner(cbs=Watch())
    thread, errors = fit_in_thread(run, 50, make_learn(bs=16))
    assert seen.wait(10)
    run.request_stop("enough", source="user")
    join(thread, errors)
    assert counts["after_stop"] <= 1  # the batch in flight may finish; no other starts
    assert run.stop_reason.message == "enough"


class Recording(Callback):
    """Counts batches and checks it never sees half a batch."""

    def __init__(self):
        self.events = []

    def begin_fit(self):
        self.events.append(("begin_fit", self.n_iter))

    def begin_batch(self):
        self.events.append(("begin_batch", self.n_iter))

    def after_batch(self):
        self.events.append(("after_batch", self.n_iter))

    def after_fit(self):
        self.events.append(("after_fit", self.n_iter))


def test_attach_and_detach_from_another_thread_apply_at_batch_boundaries(make_learn):
    pause_add, pause_remove = Pause((True, 2)), Pause((True, 6))
    extra = Recording()
    run = Runner(cbs=[pause_add, pause_remove])
    thread, errors = fit_in_thread(run, 1, make_learn(bs=64))
    assert pause_add.reached.wait(10)
    run.add_cbs(extra)
    assert extra not in run.cbs  # not yet: the loop is inside its boundary wait
    pause_add.go.set()
    assert pause_remove.reached.wait(10)
    run.remove_cbs(extra)
    pause_remove.go.set()
    join(thread, errors)
    # joined after batch 2 (n_iter 3 done): own begin_fit, then batches 3..6, then own after_fit
    assert extra.events[0] == ("begin_fit", 3)
    assert extra.events[1:-1] == [
        (ev, n) for n in range(3, 7) for ev, n in (("begin_batch", n), ("after_batch", n + 1))
    ]
    assert extra.events[-1] == ("after_fit", 7)
    assert extra not in run.cbs


def test_concurrent_attach_detach_never_splits_a_batch(make_learn):
    run = Runner()
    cbs = [Recording() for _ in range(20)]
    started = threading.Event()

    class Started(Callback):
        def begin_batch(self):
            started.set()

    run.add_cbs(Started())
    thread, errors = fit_in_thread(run, 2, make_learn(bs=32))
    assert started.wait(10)
    for cb in cbs:
        run.add_cbs(cb)
        run.remove_cbs(cb)
    join(thread, errors)
    for cb in cbs:
        kinds = [ev for ev, _ in cb.events]
        assert kinds[0] == "begin_fit" and kinds[-1] == "after_fit"
        body = kinds[1:-1]
        assert body == ["begin_batch", "after_batch"] * (len(body) // 2)


def test_add_and_remove_outside_fit_apply_at_once():
    run = Runner()
    cb = Recording()
    run.add_cbs(cb)
    assert cb in run.cbs and cb.run is run
    run.remove_cbs(cb)
    assert cb not in run.cbs and cb.events == []  # no events outside a fit


def test_remove_unknown_or_train_eval_callback_is_refused():
    run = Runner()
    with pytest.raises(ValueError, match="not attached"):
        run.remove_cbs(Recording())
    with pytest.raises(ValueError, match="cannot be removed"):
        run.remove_cbs(run.cbs[0])


def test_second_concurrent_fit_is_refused(make_learn):
    pause = Pause((True, 0))
    run = Runner(cbs=pause)
    learn = make_learn()
    thread, errors = fit_in_thread(run, 1, learn)
    assert pause.reached.wait(10)
    with pytest.raises(RuntimeError, match="already running fit"):
        run.fit(1, learn)
    pause.go.set()
    join(thread, errors)

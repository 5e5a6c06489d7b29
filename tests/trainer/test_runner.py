"""Runner: event order, _order, truthy returns, Cancel exceptions, errors, stop_reason."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
import torch.nn.functional as F

from trainer import (
    EVENTS,
    AvgStatsCallback,
    Callback,
    CallbackError,
    CancelBatchException,
    CancelEpochException,
    CancelTrainException,
    DataBunch,
    Dataset,
    Learner,
    Runner,
    TrainEvalCallback,
    accuracy,
    get_dls,
    get_model,
)


class Log(Callback):
    """Records (name, event, in_train) for every event it sees."""

    def __init__(self, label="log", order=0, log=None, events=EVENTS):
        self.label, self._order, self.log = label, order, log if log is not None else []
        for ev in events:
            setattr(self, ev, self._make(ev))

    def _make(self, ev):
        def handler():
            self.log.append((self.label, ev))

        return handler


def test_events_run_in_documented_order(make_learn):
    log = Log()
    run = Runner(cbs=log)
    learn = make_learn(bs=512)
    run.fit(1, learn)
    events = [ev for _, ev in log.log]
    n_train, n_valid = len(learn.data.train_dl), len(learn.data.valid_dl)
    train_batch = ["begin_batch", "after_pred", "after_loss", "after_backward", "after_step"]
    expected = (
        ["begin_fit", "begin_epoch"]
        + [*train_batch, "after_batch"] * n_train
        + ["begin_validate"]
        + ["begin_batch", "after_pred", "after_loss", "after_batch"] * n_valid
        + ["after_epoch", "after_fit"]
    )
    assert events == expected


def test_callbacks_run_sorted_by_order_and_stably(make_learn):
    log = []
    cbs = [Log("late", 5, log), Log("early", -1, log), Log("mid-a", 0, log), Log("mid-b", 0, log)]
    run = Runner(cbs=cbs)
    assert isinstance(run.cbs[1], TrainEvalCallback)  # order -1 first, then the order-0 ones
    assert [getattr(c, "label", "train_eval") for c in run.cbs] == [
        "early",
        "train_eval",
        "mid-a",
        "mid-b",
        "late",
    ]
    run.fit(1, make_learn(bs=1024))
    begin_fit = [label for label, ev in log if ev == "begin_fit"]
    assert begin_fit == ["early", "mid-a", "mid-b", "late"]


def test_only_overridden_hooks_are_dispatched(make_learn):
    class OnlyEpoch(Callback):
        calls = 0

        def after_epoch(self):
            OnlyEpoch.calls += 1

    run = Runner(cbs=OnlyEpoch())
    assert [h.__self__ for h in run._handlers["after_epoch"]] == [run.cbs[1]]
    assert run._handlers["after_pred"] == ()
    run.fit(2, make_learn())
    assert OnlyEpoch.calls == 2


def test_truthy_begin_batch_skips_the_step_but_not_after_batch(make_learn):
    class SkipAll(Callback):
        def begin_batch(self):
            return True

    learn = make_learn()
    before = [p.clone() for p in learn.model.parameters()]
    log = Log(events=("after_pred", "after_batch"))
    run = Runner(cbs=[SkipAll(), log])
    run.fit(1, learn)
    assert all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters(), strict=True))
    assert {ev for _, ev in log.log} == {"after_batch"}
    assert run.n_iter == len(learn.data.train_dl)  # batches still count as done


def test_truthy_after_step_skips_zero_grad(make_learn):
    grads = []

    class KeepGrads(Callback):
        def after_step(self):
            return True

        def begin_batch(self):
            if self.in_train:
                grads.append(self.model[0].weight.grad)

    run = Runner(cbs=KeepGrads())
    run.fit(1, make_learn(bs=512))
    assert grads[0] is None and all(g is not None for g in grads[1:])


def test_truthy_after_loss_skips_backward(make_learn):
    class NoBackward(Callback):
        def after_loss(self):
            return True

    learn = make_learn()
    run = Runner(cbs=NoBackward())
    run.fit(1, learn)
    assert all(p.grad is None for p in learn.model.parameters())


def test_truthy_begin_epoch_and_begin_validate_skip_their_phase(make_learn):
    log = Log(events=("begin_batch",))

    class SkipTrain(Callback):
        def begin_epoch(self):
            return True

    run = Runner(cbs=[SkipTrain(), log])
    learn = make_learn()
    run.fit(1, learn)
    assert len(log.log) == len(learn.data.valid_dl) and run.n_iter == 0

    class SkipValid(Callback):
        def begin_validate(self):
            return True

    log.log.clear()
    run = Runner(cbs=[SkipValid(), log])
    run.fit(1, learn)
    assert len(log.log) == len(learn.data.train_dl)


def test_truthy_after_epoch_ends_the_fit(make_learn):
    class Once(Callback):
        def after_epoch(self):
            return True

    run = Runner(cbs=Once())
    learn = make_learn()
    run.fit(5, learn)
    assert run.epoch == 0 and run.n_iter == len(learn.data.train_dl)
    assert run.stop_reason.source == "callback"


def test_truthy_begin_fit_skips_training_but_runs_after_fit(make_learn):
    log = Log(events=("begin_batch", "after_fit"))

    class NoFit(Callback):
        def begin_fit(self):
            return True

    Runner(cbs=[NoFit(), log]).fit(2, make_learn())
    assert log.log == [("log", "after_fit")]


def test_cancel_batch_exception_skips_rest_of_batch(make_learn):
    log = Log(events=("after_pred", "after_cancel_batch", "after_batch"))

    class Cancel(Callback):
        def begin_batch(self):
            if self.in_train and self.iter == 1:
                raise CancelBatchException()

    learn = make_learn(bs=512)
    Runner(cbs=[Cancel(), log]).fit(1, learn)
    events = [ev for _, ev in log.log]
    # batch 0 normal, batch 1 cancelled (no after_pred) but after_batch still runs
    assert events[:5] == [
        "after_pred",
        "after_batch",
        "after_cancel_batch",
        "after_batch",
        "after_pred",
    ]


def test_cancel_epoch_exception_skips_rest_of_phase_then_validates(make_learn):
    log = Log(events=("begin_batch", "after_cancel_epoch", "begin_validate", "after_epoch"))

    class Cancel(Callback):
        def after_batch(self):
            if self.in_train and self.iter == 2:
                raise CancelEpochException()

    learn = make_learn()
    run = Runner(cbs=[Cancel(), log])
    run.fit(2, learn)
    events = [ev for _, ev in log.log]
    n_valid = len(learn.data.valid_dl)
    per_epoch = ["begin_batch"] * 3 + ["after_cancel_epoch", "begin_validate"]
    per_epoch += ["begin_batch"] * n_valid + ["after_epoch"]
    assert events == per_epoch * 2
    assert run.n_iter == 6


def test_cancel_train_exception_ends_fit_and_runs_after_fit(make_learn):
    log = Log(events=("after_cancel_train", "after_fit", "begin_epoch"))

    class Cancel(Callback):
        def after_epoch(self):
            raise CancelTrainException()

    run = Runner(cbs=[Cancel(), log])
    run.fit(3, make_learn())
    assert [ev for _, ev in log.log] == ["begin_epoch", "after_cancel_train", "after_fit"]
    assert run.stop_reason.source == "callback"


def test_error_in_callback_is_callback_error_and_after_fit_runs(make_learn):
    log = Log(events=("after_fit",))

    class Broken(Callback):
        def after_loss(self):
            if self.n_iter == 3:
                raise ZeroDivisionError("boom")

    run = Runner(cbs=[Broken(), log])
    with pytest.raises(CallbackError) as info:
        run.fit(2, make_learn())
    err = info.value
    assert str(err) == "callback 'broken' failed in after_loss: ZeroDivisionError: boom"
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert (err.callback_name, err.event) == ("broken", "after_loss")
    assert log.log == [("log", "after_fit")]
    assert run.learn is None


def test_error_in_model_propagates_and_after_fit_runs(make_learn):
    log = Log(events=("after_fit",))
    learn = make_learn()
    learn.loss_func = lambda pred, yb: (_ for _ in ()).throw(RuntimeError("bad loss"))
    with pytest.raises(RuntimeError, match="bad loss"):
        Runner(cbs=log).fit(1, learn)
    assert log.log == [("log", "after_fit")]


def test_runner_can_fit_again_after_a_stop(make_learn):
    class StopEarly(Callback):
        def after_batch(self):
            if self.n_iter == 2:
                self.run.stop = True

    stopper = StopEarly()
    run = Runner(cbs=stopper)
    learn = make_learn()
    run.fit(1, learn)
    assert run.n_iter == 2 and run.stop_reason is not None
    run.remove_cbs(stopper)
    run.fit(1, learn)
    assert run.n_iter == len(learn.data.train_dl) and run.stop_reason is None


def test_stop_set_before_fit_is_honoured_at_first_boundary(make_learn):
    run = Runner()
    run.request_stop("cancelled while queued", source="service", by="test")
    run.fit(3, make_learn())
    assert run.n_iter == 0
    reason = run.stop_reason
    assert (reason.source, reason.message, reason.epoch, reason.details) == (
        "service",
        "cancelled while queued",
        0,
        {"by": "test"},
    )


def test_first_stop_request_wins(make_learn):
    class TwoStops(Callback):
        def after_batch(self):
            if self.n_iter == 1:
                self.run.request_stop("first", source="a")
                self.run.request_stop("second", source="b")

    run = Runner(cbs=TwoStops())
    run.fit(1, make_learn())
    assert (run.stop_reason.source, run.stop_reason.message) == ("a", "first")


def test_unknown_event_is_an_error():
    with pytest.raises(ValueError, match="unknown event 'after_bacth'"):
        Runner()("after_bacth")


def test_cb_funcs_name_clash_is_refused():
    class Fit(Callback):
        pass

    with pytest.raises(ValueError, match="clashes"):
        Runner(cb_funcs=[Fit])


def test_set_hyper_applies_at_next_batch(make_learn):
    lrs = []

    class Change(Callback):
        def begin_batch(self):
            if self.in_train:
                lrs.append(self.opt.param_groups[0]["lr"])

        def after_batch(self):
            if self.in_train and self.n_iter == 2:
                self.run.set_hyper("lr", 0.01)

    Runner(cbs=Change()).fit(1, make_learn(bs=256))
    assert lrs[:4] == [0.5, 0.5, 0.01, 0.01]


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("lr", -0.1, "learning rate must be >= 0"),
        ("lr", float("nan"), "finite"),
        ("mom", "x", "finite"),
    ],
)
def test_set_hyper_rejects_bad_values(name, value, match):
    with pytest.raises(ValueError, match=match):
        Runner().set_hyper(name, value)


def test_a_finished_fit_lets_its_data_go_without_waiting_for_the_cyclic_gc(digits):
    x_train, y_train, x_valid, y_valid = digits
    valid = Dataset(x_valid.clone(), y_valid.clone())  # this test's own copy
    data = DataBunch(*get_dls(Dataset(x_train, y_train), valid, 64), c=10)
    learn = Learner(*get_model(data, lr=0.5), F.cross_entropy, data)
    valid_x = weakref.ref(valid.x)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False)])  # callbacks refer back
    gc.disable()  # what a busy server sees: a collection may not come for a long while
    try:
        run.fit(1, learn)
        del learn, data, valid
        assert valid_x() is None  # freed by reference counting, with the run still alive
    finally:
        gc.enable()

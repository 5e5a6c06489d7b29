"""Schedules and ParamScheduler: cosine and one-cycle learning rates, combined schedules."""

from __future__ import annotations

import math

import pytest

from trainer import (
    ParamScheduler,
    Recorder,
    Runner,
    combine_scheds,
    cosine_sched,
    one_cycle_sched,
    sched_cos,
    sched_exp,
    sched_lin,
    sched_no,
)


def test_annealers():
    assert [sched_lin(1, 2)(p) for p in (0, 0.5, 1)] == [1, 1.5, 2]
    assert sched_cos(1, 0)(0) == 1 and sched_cos(1, 0)(0.5) == pytest.approx(0.5)
    assert sched_cos(1, 0)(1) == pytest.approx(0)
    assert sched_no(3, 9)(0.7) == 3
    assert sched_exp(1, 100)(0.5) == pytest.approx(10)


def test_combine_scheds_like_the_course():
    sched = combine_scheds([0.3, 0.7], [sched_cos(0.3, 0.6), sched_cos(0.6, 0.2)])
    assert sched(0) == pytest.approx(0.3)
    assert sched(0.3) == pytest.approx(0.6)
    assert sched(1.0) == pytest.approx(0.2)  # the end of training stays in the last phase
    with pytest.raises(ValueError, match="sum to 1"):
        combine_scheds([0.5, 0.6], [sched_no(1, 1), sched_no(1, 1)])


def test_one_cycle_shape():
    sched = one_cycle_sched(1.0, pct_start=0.25, div=10, div_final=100)
    assert sched(0) == pytest.approx(0.1) and sched(0.25) == pytest.approx(1.0)
    assert sched(1) == pytest.approx(0.01)
    values = [sched(i / 100) for i in range(101)]
    peak = values.index(max(values))
    assert values[: peak + 1] == sorted(values[: peak + 1])
    assert values[peak:] == sorted(values[peak:], reverse=True)


def test_param_scheduler_sets_lr_before_each_training_batch(make_learn):
    learn = make_learn(bs=256)  # 6 batches an epoch
    rec = Recorder()
    run = Runner(cbs=[ParamScheduler("lr", cosine_sched(0.4, 0.0)), rec])
    run.fit(2, learn)
    n = 12
    expected = [0.4 * (1 + math.cos(math.pi * i / n)) / 2 for i in range(n)]
    assert rec.lrs == pytest.approx(expected)


def test_param_scheduler_per_group_count_must_match(make_learn):
    run = Runner(cbs=ParamScheduler("lr", [sched_no(1, 1), sched_no(2, 2)]))
    with pytest.raises(Exception, match="2 schedules for 1 optimizer param groups"):
        run.fit(1, make_learn())


def test_lr_find_as_the_course_uses_it(make_learn):
    """Notebook 05b's cell, unchanged: loss against an exponentially growing lr."""
    from itertools import pairwise

    from trainer import LR_Find, Recorder, Runner

    run = Runner(cb_funcs=[LR_Find, Recorder])
    run.fit(10, make_learn())  # 230 batches: the finder ends the fit long before
    lrs, losses = run.recorder.lrs, run.recorder.losses
    assert 2 <= len(lrs) <= 100 and len(losses) == len(lrs)
    assert all(b > a for a, b in pairwise(lrs))  # exponential sweep, one lr per batch
    assert lrs[0] == pytest.approx(1e-6)
    assert run.stop_reason is not None and "CancelTrainException" in run.stop_reason.message
    # It stops at the latest after max_iter batches (the batch that trips it is not recorded).
    assert lrs[-1] <= 10 and len(lrs) >= 50  # on digits the loss holds until lr ~ 1

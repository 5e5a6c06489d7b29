"""The notebook's cells, ported to digits: each must run unchanged and behave as it says."""

# ruff: noqa: F403, F405  (the notebook's own `from ... import *` style is what is tested)

from __future__ import annotations

import re
from functools import partial

import torch
import torch.nn.functional as F

from trainer import *


def test_cells_data_learner_and_model(digits):
    x_train, y_train, x_valid, y_valid = get_data()
    train_ds, valid_ds = Dataset(x_train, y_train), Dataset(x_valid, y_valid)
    nh, bs, c = 50, 64, 10
    data = DataBunch(*get_dls(train_ds, valid_ds, bs), c)
    xb, yb = next(iter(data.train_dl))
    assert xb.shape == torch.Size([bs, 64]) and yb.shape == torch.Size([bs])
    assert data.train_ds is train_ds and data.valid_ds is valid_ds
    model, opt = get_model(data, nh=nh)
    assert [m.__class__.__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert model[0].in_features == 64 and model[2].out_features == c
    assert opt.param_groups[0]["lr"] == 0.5
    learn = Learner(model, opt, F.cross_entropy, data)
    assert (learn.model, learn.opt, learn.data) == (model, opt, data)


def test_cell_camel2snake_and_callback_name():
    assert camel2snake("TrainEvalCallback") == "train_eval_callback"
    assert TrainEvalCallback().name == "train_eval"
    assert AvgStatsCallback([accuracy]).name == "avg_stats"

    class Callback2(Callback):
        pass

    assert Callback().name == "callback"
    assert re.fullmatch(r"callback2", Callback2().name)


def test_cell_listify():
    assert listify(None) == []
    assert listify([1, 2]) == [1, 2]
    assert listify("ab") == ["ab"]
    assert listify((1, 2)) == [1, 2]
    assert listify(3) == [3]


def test_cell_test_callback_stops_after_batch_10(make_learn, capsys):
    class TestCallback(Callback):
        def after_step(self):
            print(f"Batch: {self.n_iter}")
            if self.n_iter >= 10:
                print("Early Stopping")
                self.run.stop = True

    run = Runner(cbs=TestCallback())
    learn = make_learn()
    run.fit(3, learn)
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Batch: {i}" for i in range(11)] + ["Early Stopping"]
    assert run.stop_reason is not None and run.stop_reason.epoch == 0
    assert run.stop_reason.iter == 11  # batches 0..10 trained, then the loop stopped
    assert run.learn is None and run.stop is False  # ready for another fit


def test_cell_avg_stats_callback_prints_train_and_valid(make_learn, capsys):
    run = Runner(cbs=AvgStatsCallback([accuracy]))
    run.fit(2, make_learn())
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["train", "valid", "train", "valid"]
    for line in lines:
        values = eval(line.split(": ", 1)[1])  # a list of plain floats, as printed
        assert len(values) == 2 and all(type(v) is float for v in values)
    final_valid_acc = eval(lines[-1].split(": ", 1)[1])[1]
    assert final_valid_acc > 0.85  # digits: the notebook's model learns within 2 epochs


def test_cell_cb_funcs_partial_sets_attribute(make_learn, capsys):
    run = Runner(cb_funcs=[partial(AvgStatsCallback, accuracy)])
    assert isinstance(run.avg_stats, AvgStatsCallback)
    assert run.avg_stats in run.cbs
    run.fit(1, make_learn())
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == repr(run.avg_stats.train_stats)
    assert printed[1] == repr(run.avg_stats.valid_stats)
    assert run.avg_stats.valid_stats.count == 359


def test_runner_properties_fall_through_to_learner(make_learn):
    seen = {}

    class Peek(Callback):
        def begin_fit(self):
            seen.update(
                model=self.model,
                opt=self.opt,
                loss_func=self.loss_func,
                data=self.data,
                epochs=self.epochs,
            )

    learn = make_learn()
    Runner(cbs=Peek()).fit(1, learn)
    assert seen == {
        "model": learn.model,
        "opt": learn.opt,
        "loss_func": learn.loss_func,
        "data": learn.data,
        "epochs": 1,
    }

"""Learner, get_model, get_cnn_model and the checks made before any training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer import AvgStatsCallback, Learner, Runner, accuracy, get_cnn_model, get_model


def test_negative_lr_is_refused_by_get_model_learner_and_fit(make_data, make_learn):
    data = make_data()
    with pytest.raises(ValueError, match=r"learning rate must be >= 0, got -0\.1"):
        get_model(data, lr=-0.1)
    model, opt = get_model(data)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"learning rate must be a finite number >= 0, got -1\.0"):
        Learner(model, opt, F.cross_entropy, data)
    learn = make_learn()
    learn.opt.param_groups[0]["lr"] = -2.0
    run = Runner()
    with pytest.raises(ValueError, match=r"got -2\.0"):
        run.fit(1, learn)
    assert run.n_iter == 0


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True, "2"])
def test_epochs_below_one_or_not_int_is_refused(make_learn, epochs):
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        Runner().fit(epochs, make_learn())


def test_learner_without_parts_is_refused(make_data):
    model, opt = get_model(make_data())
    with pytest.raises(ValueError, match="learner has no loss_func"):
        Learner(model, opt, None, make_data())


def test_empty_training_loader_is_refused_before_training(make_data):
    data = make_data(bs=64)
    data.train_dl.drop_last, data.train_dl.batch_size = True, 10_000
    model, opt = get_model(data)
    with pytest.raises(ValueError, match="training DataLoader yields no batches"):
        Learner(model, opt, F.cross_entropy, data)


def test_get_model_needs_c(make_data):
    data = make_data()
    data.c = None
    with pytest.raises(ValueError, match=r"data.c \(the number of classes\)"):
        get_model(data)


def test_cnn_model_learns_digits(make_data):
    data = make_data(bs=32)
    torch.manual_seed(0)
    model, opt = get_cnn_model(data, lr=0.4)
    assert model(data.train_ds.x[:5]).shape == (5, 10)
    run = Runner(cbs=AvgStatsCallback([accuracy], verbose=False))
    run.fit(3, Learner(model, opt, F.cross_entropy, data))
    assert run.epoch_stats["valid"]["accuracy"] > 0.6


def test_cnn_model_needs_square_images(make_data):
    data = make_data()
    data.train_dl.dataset.x = data.train_ds.x[:, :60]
    with pytest.raises(ValueError, match="60 features is not square"):
        get_cnn_model(data)

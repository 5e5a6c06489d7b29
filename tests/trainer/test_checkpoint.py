"""Checkpoints: stop at epoch 2 of 4, resume, and end with the uninterrupted run's weights."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn, optim

from trainer import (
    AvgStatsCallback,
    Callback,
    EarlyStopping,
    Learner,
    Recorder,
    Runner,
    SaveModel,
    accuracy,
    load_checkpoint,
)


def dropout_learner(make_data, seed=0):
    """Dropout and momentum, so resuming must restore the RNG and the optimizer state."""
    data = make_data(bs=64, seed=seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return Learner(model, opt, F.cross_entropy, data)


class StopAtEpoch(Callback):
    def __init__(self, epoch):
        self.at = epoch

    def after_epoch(self):
        if self.epoch == self.at:
            self.run.request_stop(f"stop at epoch {self.at}", source=self.name)


def callbacks(tmp_path):
    return [
        AvgStatsCallback([accuracy], verbose=False),
        EarlyStopping(patience=10),
        Recorder(),
        SaveModel(tmp_path),
    ]


def test_stop_at_epoch_2_of_4_and_resume_equals_uninterrupted(make_data, tmp_path):
    full = dropout_learner(make_data)
    full_cbs = callbacks(tmp_path / "full")
    Runner(cbs=full_cbs).fit(4, full)

    part = dropout_learner(make_data)
    run = Runner(cbs=[*callbacks(tmp_path / "part"), StopAtEpoch(1)])
    run.fit(4, part)
    assert run.stop_reason.epoch == 1 and run.stop_reason.source == "stop_at_epoch"

    resumed = dropout_learner(make_data, seed=123)  # other weights and shuffling: all restored
    resumed_cbs = callbacks(tmp_path / "part")
    run2 = Runner(cbs=resumed_cbs)
    run2.fit(4, resumed, resume_from=tmp_path / "part" / "last.pt")

    for a, b in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert run2.n_iter == 4 * len(full.data.train_dl) and run2.stop_reason is None
    # callbacks' state came back too: the recorder holds all four epochs, early stopping its best
    assert [e["epoch"] for e in resumed_cbs[2].epochs] == [0, 1, 2, 3]
    assert resumed_cbs[2].losses == full_cbs[2].losses
    assert resumed_cbs[1].best == full_cbs[1].best
    # and the run's epoch history, which a callback attached after the resume reads
    assert [e["epoch"] for e in run2.epoch_history] == [0, 1, 2, 3]
    assert run2.epoch_history[1] == run.epoch_history[1]


def test_checkpoint_holds_only_plain_data(make_data, tmp_path):
    learn = dropout_learner(make_data)
    Runner(cbs=[SaveModel(tmp_path)]).fit(1, learn)
    state = load_checkpoint(tmp_path / "last.pt")  # weights_only=True inside
    assert set(state) >= {"model", "opt", "epoch", "n_iter", "rng", "callbacks"}
    assert state["epoch"] == 0 and state["n_iter"] == len(learn.data.train_dl)
    assert "train_dl" in state["rng"]
    torch.load(tmp_path / "last.pt", weights_only=True)


def test_loading_a_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"version": 1, "x": print}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(path)


def test_missing_or_foreign_checkpoint_is_a_clear_error(tmp_path, make_learn):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        Runner().fit(1, make_learn(), resume_from=tmp_path / "nope.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a trainer checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_save_best_only_writes_when_monitor_improves(make_learn, tmp_path):
    saver = SaveModel(tmp_path, every="best", monitor="valid_accuracy")
    writes = []

    class Spy(Callback):
        _order = 60

        def after_epoch(self):
            writes.append(saver.best)

    learn = make_learn(lr=0.5)
    Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), saver, Spy()]).fit(3, learn)
    assert saver.path == tmp_path / "best.pt" and saver.last_path == saver.path
    assert writes == sorted(writes) and writes[-1] == max(writes)
    saved = load_checkpoint(saver.path)
    best_model = nn.Sequential(nn.Linear(64, 50), nn.ReLU(), nn.Linear(50, 10))
    best_model.load_state_dict(saved["model"])
    x, y = learn.data.valid_ds.x, learn.data.valid_ds.y
    assert accuracy(best_model(x), y).item() == pytest.approx(saver.best)

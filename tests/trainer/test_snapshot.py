"""Snapshots: taken before a training batch, mid-epoch, from another thread; a fit resumed
from one ends with the uninterrupted fit's weights and epoch stats, and the fit it was
taken from is untouched."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from tests.trainer.test_checkpoint import callbacks, dropout_learner
from trainer import Callback, Runner, load_checkpoint

EPOCHS = 3


class SnapshotAt(Callback):
    """Asks for a snapshot when the fit has done `n_iter` training batches."""

    def __init__(self, n_iter: int, path: Path) -> None:
        self.at, self.path, self.future = n_iter, path, None

    def after_batch(self):
        if self.in_train and self.n_iter == self.at and self.future is None:
            self.future = self.run.snapshot(self.path)


def _weights(learn):
    return [p.detach().clone() for p in learn.model.parameters()]


def _fit(make_data, tmp_path, *extra, resume_from=None, seed=0):
    learn = dropout_learner(make_data, seed=seed)
    cbs = callbacks(tmp_path)
    run = Runner(cbs=[*cbs, *extra])
    run.fit(EPOCHS, learn, resume_from=resume_from)
    return learn, run, cbs


def test_a_fit_resumed_from_a_mid_epoch_snapshot_equals_the_uninterrupted_fit(make_data, tmp_path):
    plain, plain_run, plain_cbs = _fit(make_data, tmp_path / "plain")
    per_epoch = len(plain.data.train_dl)
    at = per_epoch + 5  # 5 batches into the second epoch

    asker = SnapshotAt(at, tmp_path / "fork.pt")
    parent, _, _ = _fit(make_data, tmp_path / "parent", asker)
    position = asker.future.result(timeout=0)
    assert position == {"epoch": 1, "batch": 5, "iter": at}  # before the next batch
    for a, b in zip(_weights(plain), _weights(parent), strict=True):
        assert torch.equal(a, b)  # taking it changed nothing

    state = load_checkpoint(tmp_path / "fork.pt")  # weights_only=True
    assert state["position"]["epoch"] == 1 and state["position"]["batch"] == 5
    assert state["epoch"] == 0  # epochs finished, as an epoch checkpoint counts them

    # Other initial weights and shuffling seed: everything comes from the snapshot.
    child, child_run, child_cbs = _fit(
        make_data, tmp_path / "child", resume_from=tmp_path / "fork.pt", seed=7
    )
    for a, b in zip(_weights(plain), _weights(child), strict=True):
        assert torch.equal(a, b)
    assert child_run.n_iter == plain_run.n_iter == EPOCHS * per_epoch
    # The fork epoch's averages cover the whole epoch, the batches before the snapshot too;
    # the Recorder's history came with the snapshot.
    recorded, child_recorded = plain_cbs[2].epochs, child_cbs[2].epochs
    assert [e["epoch"] for e in child_recorded] == [0, 1, 2]
    assert child_recorded == recorded
    assert child_cbs[1].best == plain_cbs[1].best


def test_a_paused_fit_takes_a_snapshot_where_it_holds(make_data, tmp_path):
    learn = dropout_learner(make_data)
    held = threading.Event()

    class PauseAt(Callback):
        def after_batch(self):
            if self.in_train and self.n_iter == 3:
                self.run.pause()

        def begin_pause(self):
            held.set()

    run = Runner(cbs=[PauseAt()])
    fitting = threading.Thread(target=run.fit, args=(1, learn))
    fitting.start()
    assert held.wait(30)
    position = run.snapshot(tmp_path / "paused.pt").result(timeout=30)
    run.resume()
    fitting.join(30)
    assert position == {"epoch": 0, "batch": 3, "iter": 3}
    assert (tmp_path / "paused.pt").is_file()


def test_a_snapshot_asked_for_too_late_fails_its_future_not_the_fit(make_data, tmp_path):
    learn = dropout_learner(make_data)

    class AskAtTheEnd(Callback):
        future = None

        def after_epoch(self):  # no training batch follows in a 1-epoch fit
            AskAtTheEnd.future = self.run.snapshot(tmp_path / "late.pt")

    run = Runner(cbs=[AskAtTheEnd()])
    run.fit(1, learn)
    with pytest.raises(RuntimeError, match="ended before a training batch"):
        AskAtTheEnd.future.result(timeout=0)
    assert not (tmp_path / "late.pt").exists() and run.stop_reason is None


def test_a_snapshot_asked_for_between_fits_is_taken_before_the_next_fits_first_batch(
    make_data, tmp_path
):
    learn = dropout_learner(make_data)
    run = Runner()
    future = run.snapshot(tmp_path / "first.pt")
    run.fit(1, learn)
    assert future.result(timeout=0) == {"epoch": 0, "batch": 0, "iter": 0}
    assert load_checkpoint(tmp_path / "first.pt")["position"]["batch"] == 0


def test_a_snapshot_resumed_with_another_batch_size_is_refused(make_data, tmp_path):
    per_epoch = len(dropout_learner(make_data).data.train_dl)
    asker = SnapshotAt(per_epoch - 2, tmp_path / "fork.pt")
    _fit(make_data, tmp_path / "parent", asker)
    learn = dropout_learner(make_data)
    learn.data = make_data(bs=512)  # fewer batches than the snapshot has done
    with pytest.raises(ValueError, match="batch size it was taken with"):
        Runner(cbs=callbacks(tmp_path / "child")).fit(EPOCHS, learn, resume_from=asker.path)

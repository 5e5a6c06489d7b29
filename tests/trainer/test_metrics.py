"""accuracy, AvgStats and AvgStatsCallback against sums computed by hand."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import pytest
import torch

from trainer import AvgStats, AvgStatsCallback, Callback, Runner, accuracy


def test_accuracy():
    out = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(out, torch.tensor([1, 1, 1])).item() == pytest.approx(2 / 3)


def test_avg_stats_weights_batches_by_size_and_names_metrics():
    stats = AvgStats([accuracy, partial(accuracy)], in_train=False)
    assert stats.names == ["loss", "accuracy", "accuracy"]
    assert repr(stats) == "" and stats.as_dict() == {}
    batches = [
        (torch.tensor([[1.0, 0.0]] * 3), torch.tensor([0, 0, 1]), torch.tensor(0.6)),
        (torch.tensor([[0.0, 1.0]]), torch.tensor([1]), torch.tensor(0.2)),
    ]
    for pred, yb, loss in batches:
        stats.accumulate(SimpleNamespace(xb=pred, yb=yb, pred=pred, loss=loss))
    assert stats.count == 4
    assert stats.avg_stats == pytest.approx([(0.6 * 3 + 0.2) / 4, 3 / 4, 3 / 4])
    assert stats.as_dict() == pytest.approx({"loss": 0.5, "accuracy": 0.75})
    assert repr(stats).startswith("valid: [0.5")
    assert isinstance(stats.tot_loss, torch.Tensor)  # sums stay tensors until read


def test_callback_stats_match_a_manual_pass_over_validation(make_learn):
    learn = make_learn()
    run = Runner(cbs=AvgStatsCallback([accuracy], verbose=False))
    run.fit(1, learn)
    model, (x, y) = learn.model, (learn.data.valid_ds.x, learn.data.valid_ds.y)
    with torch.no_grad():
        pred = model(x)
        expected_loss = torch.nn.functional.cross_entropy(pred, y).item()
        expected_acc = accuracy(pred, y).item()
    valid = run.epoch_stats["valid"]
    assert valid["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert valid["accuracy"] == pytest.approx(expected_acc)


def test_epoch_stats_are_readable_by_later_callbacks_each_epoch(make_learn):
    seen = []

    class Reader(Callback):
        _order = 10

        def after_epoch(self):
            seen.append((self.epoch, self.epoch_stats["train"]["loss"], self.epoch_stats["valid"]))

    run = Runner(cbs=[Reader(), AvgStatsCallback([accuracy], verbose=False)])
    run.fit(2, make_learn())
    assert [epoch for epoch, _, _ in seen] == [0, 1]
    assert seen[1][1] < seen[0][1]  # training loss went down
    assert set(seen[1][2]) == {"loss", "accuracy"}


def test_verbose_false_prints_nothing(make_learn, capsys):
    Runner(cbs=AvgStatsCallback([accuracy], verbose=False)).fit(1, make_learn())
    assert capsys.readouterr().out == ""


def test_metric_returning_a_plain_number_is_averaged_too():
    def half(pred, yb):
        return 0.5

    stats = AvgStats([half], in_train=True)
    for _ in range(3):
        x = torch.zeros(2, 2)
        stats.accumulate(SimpleNamespace(xb=x, yb=torch.zeros(2), pred=x, loss=torch.tensor(1.0)))
    assert stats.as_dict() == pytest.approx({"loss": 1.0, "half": 0.5})

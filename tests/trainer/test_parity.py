"""Same seed: the Runner and a hand-written loop end with identical weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainer import AvgStatsCallback, Learner, Runner, accuracy, get_model


def hand_written_fit(epochs, model, opt, data):
    for _ in range(epochs):
        model.train()
        for xb, yb in data.train_dl:
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad():
            for xb, yb in data.valid_dl:
                F.cross_entropy(model(xb), yb)


def test_runner_and_hand_written_loop_end_with_identical_weights(make_data):
    data_a, data_b = make_data(seed=3), make_data(seed=3)
    torch.manual_seed(0)
    learn = Learner(*get_model(data_a, lr=0.3), F.cross_entropy, data_a)
    torch.manual_seed(0)
    model, opt = get_model(data_b, lr=0.3)
    assert all(
        torch.equal(a, b) for a, b in zip(learn.model.parameters(), model.parameters(), strict=True)
    )

    Runner().fit(3, learn)
    hand_written_fit(3, model, opt, data_b)
    for a, b in zip(learn.model.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_metrics_do_not_change_the_weights(make_learn):
    plain, with_stats = make_learn(seed=1), make_learn(seed=1)
    Runner().fit(2, plain)
    Runner(cbs=AvgStatsCallback([accuracy], verbose=False)).fit(2, with_stats)
    for a, b in zip(plain.model.parameters(), with_stats.model.parameters(), strict=True):
        assert torch.equal(a, b)

"""`suggest_lr`: the lr read off a finder's curve, by the rule it says."""

from __future__ import annotations

import math

import pytest

from trainer import Callback, CancelTrainException, Runner, suggest_lr


def _sweep(n: int = 100) -> list[float]:
    return [1e-7 * (1e8) ** (i / (n - 1)) for i in range(n)]


def test_the_suggestion_is_where_the_loss_falls_fastest_before_its_minimum() -> None:
    lrs = _sweep()
    # Flat until 1e-4, a steep fall centred on 1e-2, a minimum near 1, then divergence.
    losses = [2.3 - 1.0 / (1 + math.exp(-4 * (math.log10(lr) + 2))) for lr in lrs]
    losses = [loss + (5 * (lr - 1) if lr > 1 else 0) for loss, lr in zip(losses, lrs, strict=True)]
    suggestion = suggest_lr(lrs, losses, window=1)  # no smoothing: the raw curve's steepest
    assert suggestion.rule == "steepest" and suggestion.lr == suggestion.steepest
    assert 10**-2.3 < suggestion.lr < 10**-1.7
    assert 0.3 < suggestion.minimum <= 1.2


def test_smoothing_neither_follows_the_noise_nor_lags_towards_divergence() -> None:
    lrs = _sweep()
    clean = [2.3 - 1.0 / (1 + math.exp(-4 * (math.log10(lr) + 2))) for lr in lrs]
    # Batch noise: every seventh batch's loss jumps, as an unlucky batch's does.
    noisy = [loss + (0.3 if i % 7 == 3 else 0.0) for i, loss in enumerate(clean)]
    suggestion = suggest_lr(lrs, noisy)
    assert abs(math.log10(suggestion.lr) - (-2)) <= 0.25  # the true steepest is at 1e-2


def test_a_curve_that_never_descends_falls_back_to_a_tenth_of_the_minimum() -> None:
    lrs = _sweep(20)
    losses = [1.0 + i for i in range(20)]  # rising from the first batch: minimum at the start
    suggestion = suggest_lr(lrs, losses)
    assert suggestion.rule == "minimum/10" and suggestion.steepest is None
    assert suggestion.lr == pytest.approx(lrs[0] / 10)


def test_non_finite_losses_are_left_out_and_none_at_all_is_an_error() -> None:
    lrs = _sweep(10)
    assert suggest_lr(lrs, [float("nan")] * 9 + [1.0]).minimum == lrs[-1]
    with pytest.raises(ValueError, match="finite"):
        suggest_lr(lrs, [float("inf")] * 10)


def test_a_stop_asked_before_a_cancel_gives_the_runs_stop_reason(make_learn) -> None:
    class AskThenCancel(Callback):
        def after_step(self) -> None:
            if self.n_iter >= 3:
                self.run.request_stop("done sweeping", source="finder")
                raise CancelTrainException()

    run = Runner(cbs=[AskThenCancel()])
    run.fit(2, make_learn())
    assert run.stop_reason is not None
    assert (run.stop_reason.source, run.stop_reason.message) == ("finder", "done sweeping")

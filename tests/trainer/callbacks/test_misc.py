"""GradientClip, Recorder, ProgressCallback and MixedPrecision."""

from __future__ import annotations

import io

import pytest
import torch

from trainer import (
    AvgStatsCallback,
    Callback,
    GradientClip,
    MixedPrecision,
    ProgressCallback,
    Recorder,
    Runner,
    accuracy,
)


def norm_spy(norms):
    class Norm(Callback):
        _order = 10  # after the clip

        def after_backward(self):
            grads = [p.grad.flatten() for p in self.model.parameters()]
            norms.append(torch.cat(grads).norm().item())

    return Norm()


def test_gradient_clip_bounds_the_norm_seen_by_the_step(make_learn):
    clipped, unclipped = [], []
    Runner(cbs=[GradientClip(0.05), norm_spy(clipped)]).fit(1, make_learn())
    Runner(cbs=[norm_spy(unclipped)]).fit(1, make_learn())
    assert max(clipped) <= 0.05 + 1e-6
    assert max(unclipped) > 0.05  # so the clip changed something


def test_recorder_keeps_batch_losses_lrs_and_epoch_stats(make_learn):
    rec = Recorder()
    learn = make_learn()
    Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), rec]).fit(2, learn)
    n = 2 * len(learn.data.train_dl)
    assert len(rec.losses) == n and len(rec.lrs) == n and set(rec.lrs) == {0.5}
    assert all(isinstance(v, float) for v in rec.losses)
    assert sum(rec.losses[-5:]) < sum(rec.losses[:5])
    assert [e["epoch"] for e in rec.epochs] == [0, 1]
    assert set(rec.epochs[0]) == {"epoch", "train", "valid"}


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_quiet_when_not_a_terminal(make_learn, capsys):
    out = io.StringIO()
    Runner(cbs=ProgressCallback(file=out)).fit(1, make_learn())
    assert out.getvalue() == ""
    Runner(cbs=ProgressCallback()).fit(1, make_learn())  # pytest's stdout is no terminal
    assert capsys.readouterr().out == ""


def test_progress_draws_bars_on_a_terminal(make_learn):
    out = FakeTTY()
    Runner(cbs=ProgressCallback(file=out)).fit(2, make_learn())
    text = out.getvalue()
    assert "epoch: 100%" in text and "2/2" in text and "train:" in text


def test_mixed_precision_on_cpu_uses_bfloat16_and_still_learns(make_learn):
    dtypes = []

    class Dtype(Callback):
        _order = 20

        def after_pred(self):
            dtypes.append(self.pred.dtype)

    learn = make_learn()
    run = Runner(cbs=[MixedPrecision(), Dtype(), AvgStatsCallback([accuracy], verbose=False)])
    run.fit(2, learn)
    assert set(dtypes) == {torch.bfloat16}
    assert learn.model[0].weight.dtype == torch.float32  # the weights stay float32
    assert run.epoch_stats["valid"]["accuracy"] > 0.8
    assert run.grad_scaler is None
    assert not torch.is_autocast_enabled("cpu")  # nothing leaks out of the fit


@pytest.mark.parametrize("bad", [0, -1.0])
def test_gradient_clip_needs_positive_norm(bad):
    with pytest.raises(ValueError, match="max_norm > 0"):
        GradientClip(bad)


def test_mixed_precision_float16_steps_through_a_grad_scaler(make_learn):
    """The CUDA recipe (fp16 + GradScaler), exercised on the CPU: scaling must not hurt learning."""
    scales = []

    class Spy(Callback):
        _order = 20

        def after_step(self):
            scales.append(self.run.grad_scaler.get_scale())

    learn = make_learn()
    run = Runner(
        cbs=[
            MixedPrecision(torch.float16),
            GradientClip(1.0),
            Spy(),
            AvgStatsCallback([accuracy], verbose=False),
        ]
    )
    run.fit(2, learn)
    assert scales and all(s >= 1.0 for s in scales)
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())
    assert run.epoch_stats["valid"]["accuracy"] > 0.8
    assert run.grad_scaler is None


def test_builtin_callbacks_have_readable_snake_case_names():
    import re

    import trainer

    for name in trainer.callbacks.__all__:
        obj = getattr(trainer, name)
        if isinstance(obj, type) and issubclass(obj, Callback):
            cb_name = obj.__dict__.get("name") or obj.name.fget(obj.__new__(obj))
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cb_name), (name, cb_name)

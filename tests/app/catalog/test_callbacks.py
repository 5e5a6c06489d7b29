"""The callback catalog: bounded, validated params, and every entry builds a callback that works."""

import math
import threading
from itertools import pairwise

import pytest
import torch
from pydantic import ValidationError

from app.catalog import CallbackContext, UnknownEntryError, callback_catalog, recipe_registry
from app.catalog.callbacks import SetHyperparameter
from trainer import AvgStatsCallback, Callback, Recorder, Runner, accuracy, load_checkpoint

torch.set_num_threads(1)

EXPECTED = [
    "early_stopping",
    "stop_after_iters",
    "time_limit",
    "terminate_on_nan",
    "checkpoint",
    "lr_find",
    "lr_schedule",
    "gradient_clip",
    "set_hyperparameter",
]
# The smallest params each entry needs (set_hyperparameter has no default value); lr_find
# sweeps gently enough that a one-epoch fit ends as usual.
MINIMAL = {"set_hyperparameter": {"value": 0.05}, "lr_find": {"max_iter": 1000, "max_lr": 1e-6}}
PUBLISHED: list[dict] = []


def _learner(epochs: int = 2, **params):
    validated = recipe_registry.validate_params(
        "mlp", {"epochs": epochs, "bs": 128, "lr": 0.5, "dataset": "digits", **params}
    )
    return recipe_registry.build("mlp", validated), validated.epochs


def _fit_with(name: str, params: dict, tmp_path, *extra: Callback, epochs: int = 2) -> Runner:
    ctx = CallbackContext(run_dir=tmp_path / "run", publish=PUBLISHED.append)
    cb = callback_catalog.build(name, callback_catalog.validate_params(name, params), ctx)
    learn, n_epochs = _learner(epochs)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False), cb, *extra])
    run.fit(n_epochs, learn)
    return run


def _error_locs(excinfo) -> list[tuple]:
    return [error["loc"] for error in excinfo.value.errors()]


def test_catalog_lists_every_entry_with_a_strict_schema():
    described = callback_catalog.describe()
    assert [item["name"] for item in described] == EXPECTED
    for item in described:
        assert item["description"]
        assert item["params_schema"]["additionalProperties"] is False
    patience = described[0]["params_schema"]["properties"]["patience"]
    assert (patience["minimum"], patience["maximum"]) == (0, 1000)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_entry_builds_a_callback_that_survives_a_fit(name, tmp_path):
    run = _fit_with(name, MINIMAL.get(name, {}), tmp_path, epochs=1)
    assert isinstance(run.cbs, tuple) and len(run.epoch_stats["valid"]) == 2


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("early_stopping", {"patience": -1}, "patience"),
        ("early_stopping", {"monitor": "valid_loss; import os"}, "monitor"),
        ("early_stopping", {"mode": "sideways"}, "mode"),
        ("early_stopping", {"min_delta": float("nan")}, "min_delta"),
        ("stop_after_iters", {"n": 0}, "n"),
        ("time_limit", {"seconds": 0}, "seconds"),
        ("time_limit", {"seconds": float("inf")}, "seconds"),
        ("terminate_on_nan", {"anything": 1}, "anything"),
        ("checkpoint", {"dirpath": "/etc"}, "dirpath"),
        ("checkpoint", {"every": "hour"}, "every"),
        ("lr_schedule", {"kind": "step"}, "kind"),
        ("lr_schedule", {"lr_max": 0.1, "lr_min": 0.2}, "lr_min"),
        ("lr_schedule", {"pct_start": 1.0}, "pct_start"),
        ("gradient_clip", {"max_norm": -1}, "max_norm"),
        ("set_hyperparameter", {"hyperparameter": "betas", "value": 0.9}, "hyperparameter"),
        ("set_hyperparameter", {"hyperparameter": "momentum", "value": 1.5}, "value"),
        ("set_hyperparameter", {"hyperparameter": "lr", "value": 0}, "value"),
        ("set_hyperparameter", {"hyperparameter": "lr"}, "value"),
    ],
)
def test_bad_params_name_the_field(name, params, field):
    with pytest.raises(ValidationError) as excinfo:
        callback_catalog.validate_params(name, params)
    assert _error_locs(excinfo) == [(field,)]


def test_monitor_must_be_a_statistic_of_the_run():
    monitors = recipe_registry.get("mlp").monitors
    assert monitors == ["train_loss", "train_accuracy", "valid_loss", "valid_accuracy"]
    checked = callback_catalog.validate_params(
        "early_stopping", {"monitor": "valid_accuracy"}, monitors=monitors
    )
    assert checked.monitor == "valid_accuracy"
    with pytest.raises(ValidationError, match="not a statistic of this run") as excinfo:
        callback_catalog.validate_params("checkpoint", {"monitor": "valid_f1"}, monitors=monitors)
    assert _error_locs(excinfo) == [("monitor",)]


def test_unknown_callback_lists_the_known_ones():
    with pytest.raises(UnknownEntryError, match=r"'pickle_loader'.*early_stopping"):
        callback_catalog.validate_params("pickle_loader", {})


# --- each entry does what it says -----------------------------------------------------------


def test_early_stopping_stops_with_its_reason(tmp_path):
    run = _fit_with("early_stopping", {"patience": 0, "min_delta": 1e6}, tmp_path, epochs=5)
    reason = run.stop_reason
    assert reason.source == "early_stopping" and reason.epoch == 1
    assert "valid_loss did not improve" in reason.message


def test_stop_after_iters_stops_at_that_batch(tmp_path):
    run = _fit_with("stop_after_iters", {"n": 3}, tmp_path)
    assert (run.stop_reason.source, run.stop_reason.iter) == ("stop_after_iters", 3)


def test_time_limit_stops_the_fit(tmp_path):
    run = _fit_with("time_limit", {"seconds": 0.001}, tmp_path, epochs=50)
    assert run.stop_reason.source == "time_limit" and run.stop_reason.epoch == 0


def test_terminate_on_nan_stops_before_the_weights_break(tmp_path):
    cb = callback_catalog.build(
        "terminate_on_nan", callback_catalog.validate_params("terminate_on_nan", {}), None
    )
    learn, _ = _learner()
    learn.data.train_ds.x[:] = float("nan")
    run = Runner(cbs=[cb])
    run.fit(1, learn)
    assert run.stop_reason.source == cb.name and "loss is nan" in run.stop_reason.message
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())


@pytest.mark.parametrize(("every", "file"), [("epoch", "last.pt"), ("best", "best.pt")])
def test_checkpoint_is_written_into_the_run_dir(tmp_path, every, file):
    _fit_with("checkpoint", {"every": every}, tmp_path)
    state = load_checkpoint(tmp_path / "run" / file)
    assert state["epoch"] == 1 and "model" in state
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [file]


@pytest.mark.parametrize(
    ("params", "peak", "final"),
    [
        ({"kind": "one_cycle", "lr_max": 0.4}, 0.4, 0.4 / 1e4),
        ({"kind": "cosine", "lr_max": 0.3, "lr_min": 0.01}, 0.3, 0.01),
    ],
)
def test_lr_schedule_follows_its_shape(tmp_path, params, peak, final):
    recorder = Recorder()
    _fit_with("lr_schedule", params, tmp_path, recorder)
    lrs = recorder.lrs
    assert max(lrs) == pytest.approx(peak, rel=0.02)
    top = lrs.index(max(lrs))
    assert all(a >= b for a, b in pairwise(lrs[top:]))  # falls after the peak
    assert final <= lrs[-1] <= final + 0.02 * (peak - final)  # within one step of the end
    if params["kind"] == "one_cycle":
        assert lrs[0] < peak / 10 and top > 0  # it warms up first


class _GradNormProbe(Callback):
    _order = 100  # after GradientClip

    def __init__(self):
        self.norms = []

    def after_backward(self):
        grads = [p.grad for p in self.run.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def test_gradient_clip_bounds_the_norm(tmp_path):
    probe = _GradNormProbe()
    _fit_with("gradient_clip", {"max_norm": 0.05}, tmp_path, probe, epochs=1)
    assert probe.norms and max(probe.norms) <= 0.05 * 1.001


def test_set_hyperparameter_on_a_running_fit(tmp_path):
    """Attached from another thread mid-fit, it changes momentum from the next batch on."""
    spec = callback_catalog.validate_params(
        "set_hyperparameter", {"hyperparameter": "momentum", "value": 0.9}
    )
    cb = callback_catalog.build("set_hyperparameter", spec, CallbackContext(run_dir=tmp_path))
    seen, attached = [], threading.Event()

    class Attach(Callback):
        def after_batch(self):
            seen.append(self.run.opt.param_groups[0]["momentum"])
            if self.run.n_iter == 2:
                threading.Thread(target=lambda: (self.run.add_cbs([cb]), attached.set())).start()
                assert attached.wait(timeout=5)

    learn, _ = _learner()
    Runner(cbs=[Attach()]).fit(1, learn)
    assert seen[:2] == [0.0, 0.0] and seen[-1] == 0.9
    assert math.isclose(learn.opt.param_groups[0]["momentum"], 0.9)


def test_set_hyperparameter_refuses_what_the_optimizer_lacks():
    learn, _ = _learner()
    learn.opt = torch.optim.Adam(learn.model.parameters())
    with pytest.raises(Exception, match="no 'momentum'"):
        Runner(cbs=[SetHyperparameter("momentum", 0.5)]).fit(1, learn)


def test_lr_find_publishes_its_sweep_and_says_why_it_ended(tmp_path):
    PUBLISHED.clear()
    run = _fit_with("lr_find", {"max_iter": 8}, tmp_path, epochs=3)
    # The course's LR_Find stops after the batch at which n_iter (from 0) reaches max_iter.
    assert run.stop_reason.source == "lr_find" and run.stop_reason.message == "swept 9 batches"
    (message,) = [m for m in PUBLISHED if m["type"] == "lr_find"]
    assert len(message["lr"]) == len(message["loss"]) == 9
    assert message["lr"] == sorted(message["lr"]) and message["suggestion"]["lr"] > 0


def test_lr_find_needs_a_run_to_report_to(tmp_path):
    params = callback_catalog.validate_params("lr_find", {})
    with pytest.raises(ValueError, match="publish"):
        callback_catalog.build("lr_find", params, CallbackContext(run_dir=tmp_path))

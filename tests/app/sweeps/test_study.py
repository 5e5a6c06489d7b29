"""The Optuna side of a sweep, one module's logic: which sampler a request gets."""

from __future__ import annotations

import pytest
from optuna.samplers import TPESampler

from app.sweeps.requests import SweepRequest
from app.sweeps.study import _sampler


def _request(**fields: object) -> SweepRequest:
    space = {"lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True}}
    return SweepRequest.model_validate({"recipe": "mlp", "space": space, **fields})


@pytest.mark.parametrize(("parallel", "lies"), [(1, False), (2, True), (8, True)])
def test_tpe_lies_about_running_trials_only_when_trials_run_in_parallel(
    parallel: int, lies: bool
) -> None:
    sampler = _sampler(_request(parallel=parallel, seed=0), None)
    assert isinstance(sampler, TPESampler)
    # Asked one at a time there is no other running trial: the liar would only cost each ask
    # a read of the running trials from the storage.
    assert sampler._constant_liar is lies

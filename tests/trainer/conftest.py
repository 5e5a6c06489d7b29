"""Fixtures for trainer tests: scikit-learn's digits, tiny models, one CPU thread."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainer import DataBunch, Dataset, Learner, get_data, get_dls, get_model

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, ...]:
    return get_data("digits")


@pytest.fixture
def make_data(digits: tuple[torch.Tensor, ...]) -> Callable[..., DataBunch]:
    """A DataBunch of digits; `seed` fixes the shuffling order."""

    def _make(bs: int = 64, seed: int = 0) -> DataBunch:
        x_train, y_train, x_valid, y_valid = digits
        train_ds, valid_ds = Dataset(x_train, y_train), Dataset(x_valid, y_valid)
        return DataBunch(*get_dls(train_ds, valid_ds, bs, seed=seed), c=10)

    return _make


@pytest.fixture
def make_learn(make_data: Callable[..., DataBunch]) -> Callable[..., Learner]:
    """The notebook's Learner on digits, with weights fixed by `seed`."""

    def _make(lr: float = 0.5, seed: int = 0, bs: int = 64) -> Learner:
        data = make_data(bs=bs, seed=seed)
        torch.manual_seed(seed)
        return Learner(*get_model(data, lr=lr), F.cross_entropy, data)

    return _make


def params_of(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]

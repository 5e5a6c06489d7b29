"""A recipe module loaded through FITBOARD_RECIPE_MODULES, with a bug: 3 outputs for 10 classes."""

from __future__ import annotations

import torch
from torch import nn

from app.catalog import DataParams, recipe
from trainer import Learner


@recipe("broken_model", "A linear model with too few outputs (a test recipe).", DataParams)
def broken_model(params: DataParams) -> Learner:
    data = params.load_data()
    model = nn.Linear(64, 3)  # cross-entropy fails on the first batch: targets go up to 9
    opt = torch.optim.SGD(model.parameters(), lr=params.lr)
    return Learner(model, opt, nn.functional.cross_entropy, data)


class _NaNOut(nn.Module):
    """A linear model whose outputs are NaN: every loss is NaN, and so is every statistic."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * float("nan")


@recipe("nan_model", "A model whose loss is NaN from the first batch (a test recipe).", DataParams)
def nan_model(params: DataParams) -> Learner:
    data = params.load_data()
    model = _NaNOut(data.train_ds.x.shape[1], data.c)
    opt = torch.optim.SGD(model.parameters(), lr=params.lr)
    return Learner(model, opt, nn.functional.cross_entropy, data)


class _Exits(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise SystemExit("a library called sys.exit() mid-training")


@recipe(
    "exiting_model",
    "A model that raises SystemExit on its first batch (a test recipe).",
    DataParams,
)
def exiting_model(params: DataParams) -> Learner:
    data = params.load_data()
    model = nn.Sequential(nn.Linear(data.train_ds.x.shape[1], data.c), _Exits())
    opt = torch.optim.SGD(model.parameters(), lr=params.lr)
    return Learner(model, opt, nn.functional.cross_entropy, data)

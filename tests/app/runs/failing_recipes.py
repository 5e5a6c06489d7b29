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

"""`Learner`, the notebook's container for model, optimizer, loss and data, and model makers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn, optim

__all__ = ["Learner", "check_learner", "get_cnn_model", "get_model"]


class Learner:
    """Holds everything a fit needs: `model`, `opt`, `loss_func` and `data` (a `DataBunch`)."""

    def __init__(self, model: nn.Module, opt: Any, loss_func: Any, data: Any) -> None:
        self.model, self.opt, self.loss_func, self.data = model, opt, loss_func, data
        check_learner(self)

    def __repr__(self) -> str:
        return f"Learner(model={type(self.model).__name__}, opt={type(self.opt).__name__})"


def check_learner(learn: Any) -> None:
    """Raise ValueError naming what is wrong with `learn`, before any training."""
    for attr in ("model", "opt", "loss_func", "data"):
        if getattr(learn, attr, None) is None:
            raise ValueError(f"learner has no {attr}")
    for group in learn.opt.param_groups:
        lr = group.get("lr")
        if isinstance(lr, (int, float)) and (lr < 0 or not math.isfinite(lr)):
            raise ValueError(f"learning rate must be a finite number >= 0, got {lr}")
    train_dl = getattr(learn.data, "train_dl", None)
    if train_dl is None or getattr(learn.data, "valid_dl", None) is None:
        raise ValueError("learner data needs a train_dl and a valid_dl (a DataBunch)")
    if len(train_dl) == 0:
        raise ValueError("the training DataLoader yields no batches (is the dataset empty?)")


def _n_features(data: Any) -> int:
    x = data.train_ds.x
    return int(x[0].numel())


def _device_of(data: Any) -> torch.device:
    x = getattr(data.train_ds, "x", None)
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


def _check_data_c(data: Any) -> int:
    if data.c is None:
        raise ValueError("data.c (the number of classes) is needed to build a classifier")
    return int(data.c)


def get_model(data: Any, lr: float = 0.5, nh: int = 50) -> tuple[nn.Module, optim.SGD]:
    """The notebook's model: Linear(features, nh), ReLU, Linear(nh, c), with SGD at `lr`."""
    if lr < 0:
        raise ValueError(f"learning rate must be >= 0, got {lr}")
    c = _check_data_c(data)
    model = nn.Sequential(nn.Linear(_n_features(data), nh), nn.ReLU(), nn.Linear(nh, c))
    model = model.to(_device_of(data))
    return model, optim.SGD(model.parameters(), lr=lr)


class _ToImage(nn.Module):
    """Reshape flat square images (64 or 784 features) to one-channel images."""

    def __init__(self, side: int) -> None:
        super().__init__()
        self.side = side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(-1, 1, self.side, self.side)


def get_cnn_model(
    data: Any, lr: float = 0.4, nfs: tuple[int, ...] = (8, 16, 32)
) -> tuple[nn.Module, optim.SGD]:
    """A small CNN (stride-2 3x3 convs, average pool, linear head) for square images, with SGD."""
    if lr < 0:
        raise ValueError(f"learning rate must be >= 0, got {lr}")
    c, features = _check_data_c(data), _n_features(data)
    side = math.isqrt(features)
    if side * side != features:
        raise ValueError(f"get_cnn_model needs square images; {features} features is not square")
    layers: list[nn.Module] = [_ToImage(side)]
    for n_in, n_out in zip((1, *nfs[:-1]), nfs, strict=True):
        layers += [nn.Conv2d(n_in, n_out, 3, stride=2, padding=1), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(nfs[-1], c)]
    model = nn.Sequential(*layers).to(_device_of(data))
    return model, optim.SGD(model.parameters(), lr=lr)

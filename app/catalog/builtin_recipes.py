"""The built-in recipes: an MLP (the default) and a small CNN, on digits, synthetic or local MNIST.

Both train on a fresh install with no download: scikit-learn ships the digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from torch import nn

from trainer import DataBunch, Learner, get_cnn_model, get_data, get_model

from .recipes import RecipeRegistry, TrainParams

__all__ = ["CNNParams", "DataParams", "MLPParams", "register_builtins", "resolve_dataset_path"]

DatasetName = Literal["digits", "synthetic", "mnist"]
DEFAULT_MNIST_PATH = "mnist"


def resolve_dataset_path(relative: str, datasets_dir: Path) -> Path:
    """`datasets_dir / relative`, refusing anything that leaves `datasets_dir` (`..`, absolute
    paths, symlinks pointing out) or does not exist. Messages never show server paths."""
    if Path(relative).is_absolute():
        raise ValueError("must be a path relative to FITBOARD_DATASETS_DIR, not an absolute one")
    root = datasets_dir.resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise ValueError("must stay inside FITBOARD_DATASETS_DIR")
    if not candidate.exists():
        raise ValueError(f"{relative!r} does not exist in FITBOARD_DATASETS_DIR")
    return candidate


def _datasets_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    if context.get("datasets_dir") is not None:
        return Path(context["datasets_dir"])
    from app.config import get_settings  # only when the caller gave no directory

    datasets_dir = get_settings().datasets_dir
    assert datasets_dir is not None  # Settings always resolves it
    return datasets_dir


class DataParams(TrainParams):
    """TrainParams plus the dataset to train on."""

    dataset: DatasetName = Field(
        default="digits", description="digits and synthetic need no download."
    )
    data_path: str | None = Field(
        default=None,
        max_length=255,
        validate_default=True,
        description="mnist only: IDX .gz directory or .npz file, relative to "
        f"FITBOARD_DATASETS_DIR (default {DEFAULT_MNIST_PATH!r}).",
    )
    _data_file: Path | None = PrivateAttr(None)

    @field_validator("data_path")
    @classmethod
    def _check_data_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        dataset = info.data.get("dataset")
        if dataset != "mnist":
            if value is not None:
                raise ValueError("is only used with dataset 'mnist'")
            return None
        value = value or DEFAULT_MNIST_PATH
        resolve_dataset_path(value, _datasets_dir(info))
        return value

    @model_validator(mode="after")
    def _remember_data_file(self, info: ValidationInfo) -> DataParams:
        if self.data_path is not None:
            self._data_file = resolve_dataset_path(self.data_path, _datasets_dir(info))
        return self

    def load_data(self) -> DataBunch:
        """The chosen dataset as a DataBunch of this batch size (validation batches twice it)."""
        # The validation split is fixed (trainer's default), so runs with different seeds compare.
        options = {"path": self._data_file} if self.dataset == "mnist" else {}
        return DataBunch.from_arrays(*get_data(self.dataset, **options), self.bs, seed=self.seed)


class MLPParams(DataParams):
    """Parameters of the `mlp` recipe."""

    lr: float = Field(default=0.5, gt=0, le=10, description="Learning rate (SGD).")
    nh: int = Field(default=50, ge=1, le=1024, description="Hidden units.")


class CNNParams(DataParams):
    """Parameters of the `cnn` recipe."""

    lr: float = Field(default=0.4, gt=0, le=10, description="Learning rate (SGD).")
    width: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Channels of the first convolution; each next one doubles.",
    )


def _mlp(params: MLPParams) -> Learner:
    torch.manual_seed(params.seed)
    data = params.load_data()
    model, opt = get_model(data, lr=params.lr, nh=params.nh)
    return Learner(model, opt, nn.functional.cross_entropy, data)


def _cnn(params: CNNParams) -> Learner:
    torch.manual_seed(params.seed)
    data = params.load_data()
    model, opt = get_cnn_model(
        data, lr=params.lr, nfs=(params.width, 2 * params.width, 4 * params.width)
    )
    return Learner(model, opt, nn.functional.cross_entropy, data)


def register_builtins(registry: RecipeRegistry) -> None:
    """Add the built-in recipes to `registry`; `mlp` becomes its default."""
    registry.recipe("mlp", "The notebook's MLP (one hidden layer, SGD).", MLPParams)(_mlp)
    registry.recipe(
        "cnn",
        "A small CNN: three stride-2 convolutions, average pool, linear head (SGD).",
        CNNParams,
    )(_cnn)
    registry.default = "mlp"

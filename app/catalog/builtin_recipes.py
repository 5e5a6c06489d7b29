"""The built-in recipes: an MLP (the default) and a small CNN, on digits, shifted digits,
synthetic or local MNIST.

Both train on a fresh install with no download: scikit-learn ships the digits.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from torch import nn

from trainer import DataBunch, Learner, get_cnn_model, get_data, get_model
from trainer.datasets import check_npz

from .recipes import MAX_BATCH_SIZE, MAX_EPOCHS, RecipeRegistry, TrainParams

__all__ = [
    "MAX_DATA_PATH_BYTES",
    "CNNParams",
    "DataParams",
    "MLPParams",
    "register_builtins",
    "resolve_dataset_path",
    "warm_up",
]

DatasetName = Literal["digits", "shifted_digits", "synthetic", "mnist", "csv"]
FILE_DATASETS = ("mnist", "csv")  # the datasets read from FITBOARD_DATASETS_DIR
DEFAULT_MNIST_PATH = "mnist"
OWN_DATA_SUFFIXES = (".csv", ".npz")  # what the `csv` dataset (your own data) reads


MAX_DATA_PATH_BYTES = 255  # one file name's worth (NAME_MAX): ample for `mnist/small.npz`
_IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def resolve_dataset_path(relative: str, datasets_dir: Path, dataset: str = "mnist") -> Path:
    """`datasets_dir / relative`: an `.npz` file or a directory of MNIST IDX files inside
    `datasets_dir`. Refuses anything else: paths that leave it (`..`, absolute paths, symlinks
    pointing out), the directory itself, what does not exist, a directory without the IDX
    files, names the file system cannot take. Messages never show server paths."""
    if len(relative.encode("utf-8", "surrogatepass")) > MAX_DATA_PATH_BYTES:
        raise ValueError(f"must be at most {MAX_DATA_PATH_BYTES} bytes (UTF-8)")
    if "\x00" in relative:
        raise ValueError("must not contain NUL characters")
    if Path(relative).is_absolute():
        raise ValueError("must be a path relative to FITBOARD_DATASETS_DIR, not an absolute one")
    root = datasets_dir.resolve()
    try:
        candidate = (root / relative).resolve()
        if candidate != root and root not in candidate.parents:
            raise ValueError("must stay inside FITBOARD_DATASETS_DIR")
        if candidate == root:
            raise ValueError("must name a file or directory inside FITBOARD_DATASETS_DIR")
        if not candidate.exists():
            raise ValueError(f"{relative!r} does not exist in FITBOARD_DATASETS_DIR")
        _check_dataset_shape(relative, candidate, dataset)
    # Too long for the OS, a name it cannot encode, a symlink loop (RuntimeError before 3.13).
    except (OSError, UnicodeError, RuntimeError) as exc:
        # The OS's message names the server's path: say what it was about, not where.
        reason = _reason(exc)
        raise ValueError(
            f"{relative!r} cannot be opened in FITBOARD_DATASETS_DIR: {reason}"
        ) from None
    return candidate


def _reason(exc: Exception) -> str:
    """What went wrong opening a path, in words that do not name it (an OSError's own
    message does)."""
    if isinstance(exc, OSError):
        return exc.strerror or "cannot be opened"
    if isinstance(exc, RuntimeError):
        return "symbolic link loop"
    return "a name the file system cannot encode"


def _check_dataset_shape(relative: str, candidate: Path, dataset: str) -> None:
    """What `trainer.load_mnist` reads: an .npz file, or a directory holding the IDX files;
    what `trainer.load_csv` reads: a .csv file."""
    if dataset == "csv":
        if not candidate.is_file() or candidate.suffix.lower() not in OWN_DATA_SUFFIXES:
            raise ValueError(f"{relative!r} must be a .csv or .npz file")
        return
    if candidate.is_dir():
        for stem in _IDX_STEMS:
            if not any((candidate / name).is_file() for name in (f"{stem}.gz", stem)):
                raise ValueError(f"{relative!r} is a directory without {stem}.gz (or {stem})")
    elif candidate.suffix != ".npz":
        raise ValueError(f"{relative!r} must be an .npz file or a directory of MNIST IDX files")


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
        default="digits",
        description="digits, shifted_digits (9x digits) and synthetic need no download.",
    )
    data_path: str | None = Field(
        default=None,
        max_length=255,
        validate_default=True,
        description="mnist: IDX .gz directory or .npz file (default "
        f"{DEFAULT_MNIST_PATH!r}); csv (your own data): a .csv file with a header row, or an "
        ".npz of arrays. Relative to FITBOARD_DATASETS_DIR.",
        # The launch form shows the field only for the datasets that read files.
        json_schema_extra={"x-datasets": list(FILE_DATASETS)},
    )
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="csv only: the column holding the class of each row (default 'label'); "
        "for an .npz, the array of classes (default 'y').",
        json_schema_extra={"x-datasets": ["csv"]},
    )
    features: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$",
        description="csv with an .npz only: the array of inputs, one row per example "
        "(default 'x').",
        json_schema_extra={"x-datasets": ["csv"]},
    )
    _data_file: Path | None = PrivateAttr(None)

    @field_validator("data_path")
    @classmethod
    def _check_data_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        dataset = info.data.get("dataset")
        if dataset not in FILE_DATASETS:
            if value is not None:
                names = " or ".join(map(repr, FILE_DATASETS))
                raise ValueError(f"is only used with dataset {names}")
            return None
        if dataset == "csv" and not value:
            raise ValueError(
                "is required with dataset 'csv': a .csv or .npz file in FITBOARD_DATASETS_DIR"
            )
        value = value or DEFAULT_MNIST_PATH
        resolve_dataset_path(value, _datasets_dir(info), dataset)
        return value

    @field_validator("features")
    @classmethod
    def _features_name_an_npz_array(cls, value: str | None, info: ValidationInfo) -> str | None:
        path = info.data.get("data_path")
        if value is not None and (path is None or not path.lower().endswith(".npz")):
            raise ValueError("is only used with dataset 'csv' and an .npz data_path")
        return value

    @model_validator(mode="after")
    def _remember_data_file(self, info: ValidationInfo) -> DataParams:
        if self.data_path is not None:
            self._data_file = resolve_dataset_path(
                self.data_path, _datasets_dir(info), self.dataset
            )
            if self.dataset == "csv" and self._data_file.suffix.lower() == ".npz":
                # Its headers say enough to refuse a request now rather than fail the run.
                try:
                    check_npz(self._data_file, self.features or "x", self.label or "y")
                except ValueError as exc:
                    raise ValueError(f"data_path {self.data_path!r} {exc}") from None
        return self

    def load_data(self) -> DataBunch:
        """The chosen dataset as a DataBunch of this batch size (validation batches twice it)."""
        # The validation split is fixed (trainer's default), so runs with different seeds compare.
        if self.dataset not in FILE_DATASETS:
            return DataBunch.from_arrays(*get_data(self.dataset), self.bs, seed=self.seed)
        options: dict[str, Any] = {"path": self._data_file}
        if self.dataset == "csv":
            options |= {"label": self.label, "features": self.features, "seed": self.seed}
        try:
            arrays = get_data(self.dataset, **options)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            # A run's error is shown to clients: name the file as they did, not where it is.
            message = str(exc).replace(str(self._data_file), repr(self.data_path))
            raise ValueError(f"cannot read dataset {self.data_path!r}: {message}") from None
        return DataBunch.from_arrays(*arrays, self.bs, seed=self.seed)


class MLPParams(DataParams):
    """Parameters of the `mlp` recipe. The defaults are the first run a new user sees: real
    images, a curve that keeps moving, and about 20-30 s on a laptop CPU (a point every
    ~0.3 s), long enough to try stop, attach and pause."""

    epochs: int = Field(
        default=80, ge=1, le=MAX_EPOCHS, description="Passes over the training data."
    )
    lr: float = Field(default=0.03, gt=0, le=10, description="Learning rate (SGD).")
    bs: int = Field(default=8, ge=1, le=MAX_BATCH_SIZE, description="Training batch size.")
    dataset: DatasetName = Field(
        default="shifted_digits",
        description="digits, shifted_digits (9x digits) and synthetic need no download.",
    )
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


def warm_up() -> None:
    """Import now what building the first run would import on the spot: scikit-learn's
    datasets and torch's optimizer machinery (the first `Optimizer` imports `torch._dynamo`).
    About 2 s on a laptop; a server pays it at start, in a thread, so that a user's first run
    shows its first point within a second of Start."""
    import sklearn.datasets  # noqa: F401  (the import is the point)

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)

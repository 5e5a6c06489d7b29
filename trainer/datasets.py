"""Built-in datasets that need no download: digits (default), shifted digits, synthetic,
local MNIST, and data of your own (a CSV table or an `.npz` of arrays).

Every loader returns `x_train, y_train, x_valid, y_valid` as tensors: inputs flattened,
float32 and normalised with the training set's mean and standard deviation; labels int64.
"""

from __future__ import annotations

import csv
import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "check_npz",
    "get_data",
    "load_csv",
    "load_digits",
    "load_mnist",
    "load_npz",
    "load_own",
    "load_shifted_digits",
    "make_synthetic",
    "normalize",
    "npz_array",
    "npz_headers",
    "open_npz",
]

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def normalize(
    x: torch.Tensor, mean: torch.Tensor | float, std: torch.Tensor | float
) -> torch.Tensor:
    """`(x - mean) / std`, the notebook's normalisation."""
    return (x - mean) / std


def _normalized(x_train: torch.Tensor, x_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = x_train.mean(), x_train.std()  # training statistics only: no validation leak
    return normalize(x_train, mean, std), normalize(x_valid, mean, std)


def _digits_split(seed: int, valid_pct: float) -> Split:
    """scikit-learn's digits (raw 0..16 pixels), split into training and validation with `seed`."""
    from sklearn.datasets import load_digits as sk_load_digits

    if not 0 < valid_pct < 1:
        raise ValueError(f"valid_pct must lie in (0, 1), got {valid_pct}")
    bunch = sk_load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32)
    y = torch.tensor(bunch.target, dtype=torch.int64)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_valid = round(len(x) * valid_pct)
    train_idx, valid_idx = perm[n_valid:], perm[:n_valid]
    return x[train_idx], y[train_idx], x[valid_idx], y[valid_idx]


def load_digits(*, seed: int = 0, valid_pct: float = 0.2) -> Split:
    """scikit-learn's bundled 8x8 digits (1,797 images, 64 features), split with `seed`."""
    x_train, y_train, x_valid, y_valid = _digits_split(seed, valid_pct)
    x_train, x_valid = _normalized(x_train, x_valid)
    return x_train, y_train, x_valid, y_valid


# The eight one-pixel moves (dy, dx): every neighbour of the pixel, diagonals included.
_SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _shift(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """`images` (n, h, w) moved by (dy, dx) pixels; what enters at the edge is background (0)."""
    moved = torch.zeros_like(images)
    h, w = images.shape[1:]
    moved[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return moved


def load_shifted_digits(*, seed: int = 0, valid_pct: float = 0.2) -> Split:
    """The digits of `load_digits`, each training image also moved one pixel in each of the
    eight directions (scikit-learn's `nudge_dataset` augmentation): 9x the training images,
    so an epoch is long enough to watch. The validation images are the same, unshifted."""
    x_train, y_train, x_valid, y_valid = _digits_split(seed, valid_pct)
    images = x_train.view(-1, 8, 8)
    moved = [images, *(_shift(images, dy, dx) for dy, dx in _SHIFTS)]
    x_train = torch.cat(moved).view(-1, 64)
    y_train = y_train.repeat(len(moved))
    x_train, x_valid = _normalized(x_train, x_valid)
    return x_train, y_train, x_valid, y_valid


def make_synthetic(
    n_train: int = 50_000,
    n_valid: int = 10_000,
    *,
    seed: int = 0,
    n_features: int = 784,
    c: int = 10,
) -> Split:
    """MNIST-shaped, learnable data: noisy copies of one random prototype per class."""
    if n_train < 1 or n_valid < 1:
        raise ValueError(f"n_train and n_valid must be >= 1, got {n_train} and {n_valid}")
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(c, n_features, generator=g) * 0.2
    y = torch.randint(0, c, (n_train + n_valid,), generator=g)
    x = prototypes[y] + torch.randn(n_train + n_valid, n_features, generator=g)
    x_train, x_valid = _normalized(x[:n_train], x[n_train:])
    return x_train, y[:n_train], x_valid, y[n_train:]


_IDX_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST distribution format), gzipped or not."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, file holds {data.size} values")
    return data.reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has no {stem}.gz (or {stem})")


def _mnist_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if path.is_dir():
        return read_idx(_find(path, "train-images-idx3-ubyte")), read_idx(
            _find(path, "train-labels-idx1-ubyte")
        )
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:  # never unpickle a file
            if "x_train" not in npz or "y_train" not in npz:
                raise ValueError(f"{path} needs arrays x_train and y_train, has {list(npz)}")
            return npz["x_train"], npz["y_train"]
    raise ValueError(f"{path}: give a folder of IDX files or an .npz file")


def load_mnist(path: str | Path | None = None, *, n_valid: int = 10_000) -> Split:
    """MNIST from files you already have: a folder of the IDX files, or an `.npz`.

    The last `n_valid` training images are the validation set (the notebook's 50,000/10,000).
    """
    if path is None:
        raise ValueError("mnist is read from local files: pass path= (it is never downloaded)")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no MNIST files at {path}")
    images, labels = _mnist_arrays(path)
    if len(images) != len(labels) or len(images) <= n_valid:
        raise ValueError(f"{path}: {len(images)} images, {len(labels)} labels, n_valid={n_valid}")
    x = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32) / 255.0
    y = torch.tensor(labels.astype(np.int64))
    x_train, x_valid = _normalized(x[:-n_valid], x[-n_valid:])
    return x_train, y[:-n_valid], x_valid, y[-n_valid:]


MIN_TABLE_ROWS = 10  # fewer cannot be split into training and validation usefully


def load_csv(
    path: str | Path, *, label: str = "label", seed: int = 0, valid_pct: float = 0.2
) -> Split:
    """A table of your own: a CSV file with a header row, numeric feature columns and a
    `label` column (class names or numbers, mapped to 0..c-1 in sorted order). Rows are
    split with `seed`; each feature is standardised with the training rows' mean and std."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"{path} is empty")
    header, body = rows[0], [row for row in rows[1:] if row]
    if label not in header:
        raise ValueError(f"{path} has no column {label!r}; its columns: {', '.join(header)}")
    if len(body) < MIN_TABLE_ROWS:
        raise ValueError(f"{path} has {len(body)} rows; at least {MIN_TABLE_ROWS} are needed")
    at = header.index(label)
    features = [name for i, name in enumerate(header) if i != at]
    values = np.empty((len(body), len(features)), dtype=np.float32)
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path} line {r}: {len(row)} fields, the header has {len(header)}")
        cells = [cell for i, cell in enumerate(row) if i != at]
        for c, cell in enumerate(cells):
            try:
                values[r - 2, c] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path} line {r}: column {features[c]!r} is not numeric ({cell[:40]!r})"
                ) from None
    if not np.isfinite(values).all():
        raise ValueError(f"{path} holds NaN or infinite values")
    classes = sorted({row[at] for row in body})
    index = {name: i for i, name in enumerate(classes)}
    y = torch.tensor([index[row[at]] for row in body], dtype=torch.int64)
    return _split_standardised(torch.from_numpy(values), y, seed, valid_pct)


def _split_standardised(x: torch.Tensor, y: torch.Tensor, seed: int, valid_pct: float) -> Split:
    """Rows split with `seed`; each feature standardised with the training rows' statistics."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_valid = max(1, round(len(x) * valid_pct))
    train_idx, valid_idx = perm[n_valid:], perm[:n_valid]
    x_train, x_valid = x[train_idx], x[valid_idx]
    mean, std = x_train.mean(0), x_train.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant column stays 0
    return normalize(x_train, mean, std), y[train_idx], normalize(x_valid, mean, std), y[valid_idx]


# What an .npz may unpack to: its arrays are read whole, and a compressed one can be far larger
# than the file (numpy reads no more than the sizes its zip directory states).
NPZ_MAX_UNPACKED_BYTES = 1 << 30


def open_npz(path: str | Path | Any, max_unpacked: int = NPZ_MAX_UNPACKED_BYTES) -> Any:
    """`numpy.load` of an .npz (a path or a binary file) with `allow_pickle=False`: plain
    arrays only, never unpickled objects. ValueError when it is not an .npz or unpacks to
    more than `max_unpacked` bytes."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ValueError("is not an .npz file (a zip archive of .npy arrays)") from None
    if unpacked > max_unpacked:
        raise ValueError(f"unpacks to {unpacked} bytes, more than the {max_unpacked} allowed")
    if hasattr(path, "seek"):
        path.seek(0)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"is not an .npz of plain arrays: {exc}") from None


def npz_array(npz: Any, name: str) -> np.ndarray:
    """Array `name` of an open .npz; ValueError naming the arrays there are, or saying that
    this one would need unpickling."""
    if name not in npz.files:
        raise ValueError(f"has no array {name!r}; its arrays: {', '.join(npz.files) or 'none'}")
    try:
        return np.asarray(npz[name])
    except ValueError as exc:  # an object array: it would need unpickling
        raise ValueError(f"array {name!r} cannot be read without unpickling: {exc}") from None


def npz_headers(path: str | Path) -> dict[str, tuple[np.dtype[Any], tuple[int, ...]]]:
    """Each array's dtype and shape from the .npy headers of an .npz, reading no data (a
    request is checked with it before a run starts). ValueError when it is not an .npz."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                arrays[info.filename.removesuffix(".npy")] = (dtype, tuple(shape))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ValueError(f"is not an .npz file of plain arrays ({exc})") from None
    return arrays


def check_npz(path: str | Path, x: str = "x", y: str = "y") -> int:
    """Check from its headers that the .npz at `path` holds numeric inputs `x` and one class
    `y` per row, as many of each and at least MIN_TABLE_ROWS; returns the rows. ValueError
    saying what is wrong (without the path)."""
    arrays = npz_headers(path)
    for name in (x, y):
        if name not in arrays:
            raise ValueError(f"has no array {name!r}; its arrays: {', '.join(arrays) or 'none'}")
    (x_type, x_shape), (y_type, y_shape) = arrays[x], arrays[y]
    if x_type.kind not in "biuf" or not x_shape:
        raise ValueError(f"array {x!r} must be numeric with one row per example, not {x_type}")
    one_per_row = len(y_shape) == 1 or (len(y_shape) == 2 and y_shape[1] == 1)
    if y_type.kind not in "biufUS" or not one_per_row:
        raise ValueError(
            f"array {y!r} must hold one class (a number or a name) per row, "
            f"not {y_type} of shape {y_shape}"
        )
    if x_shape[0] != y_shape[0]:
        raise ValueError(f"array {x!r} has {x_shape[0]} rows but {y!r} has {y_shape[0]}")
    if x_shape[0] < MIN_TABLE_ROWS:
        raise ValueError(f"has {x_shape[0]} rows; at least {MIN_TABLE_ROWS} are needed")
    return int(x_shape[0])


def load_npz(
    path: str | Path, *, x: str = "x", y: str = "y", seed: int = 0, valid_pct: float = 0.2
) -> Split:
    """Arrays of your own in an `.npz` (`numpy.savez`): inputs `x` (one row per example, any
    shape after the first axis, numeric) and classes `y` (integers or names, mapped to
    0..c-1 in sorted order). Loaded with `allow_pickle=False`; split and standardised as
    `load_csv` does."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no .npz file at {path}")
    try:
        check_npz(path, x, y)
        with open_npz(path) as npz:
            inputs, classes = npz_array(npz, x), npz_array(npz, y)
    except ValueError as exc:
        raise ValueError(f"{path} {exc}") from None
    classes = classes.reshape(-1)
    if classes.dtype.kind == "f" and not np.array_equal(classes, np.round(classes)):
        raise ValueError(f"{path}: array {y!r} holds fractions; classes are whole numbers")
    values = inputs.reshape(len(inputs), -1).astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: array {x!r} holds NaN or infinite values")
    _, index = np.unique(classes, return_inverse=True)
    target = torch.from_numpy(index.reshape(-1).astype(np.int64))
    return _split_standardised(torch.from_numpy(values), target, seed, valid_pct)


def load_own(
    path: str | Path,
    *,
    label: str | None = None,
    features: str | None = None,
    seed: int = 0,
    valid_pct: float = 0.2,
) -> Split:
    """Data of your own, by the file's suffix: an `.npz` (`load_npz`: arrays `features`,
    default "x", and `label`, default "y") or a CSV table (`load_csv`: column `label`,
    default "label")."""
    if Path(path).suffix.lower() == ".npz":
        return load_npz(path, x=features or "x", y=label or "y", seed=seed, valid_pct=valid_pct)
    if features is not None:
        raise ValueError("features names an .npz array: a CSV's features are its other columns")
    return load_csv(path, label=label or "label", seed=seed, valid_pct=valid_pct)


DATASETS: dict[str, Callable[..., Split]] = {
    "digits": load_digits,
    "shifted_digits": load_shifted_digits,
    "synthetic": make_synthetic,
    "mnist": load_mnist,
    "csv": load_own,  # the name the API has always had: your own table, .csv or .npz
}


def get_data(name: str = "digits", **options: Any) -> Split:
    """`x_train, y_train, x_valid, y_valid` of a built-in dataset (digits unless named)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name](**options)

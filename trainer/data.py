"""`Dataset`, a fast in-memory `DataLoader`, `DataBunch` and `get_dls`, as in the notebook."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader as TorchDataLoader

__all__ = ["DataBunch", "DataLoader", "Dataset", "get_dls"]


class Dataset:
    """Inputs `x` and targets `y`, indexed together: `ds[i] == (x[i], y[i])`."""

    def __init__(self, x: Any, y: Any) -> None:
        x, y = torch.as_tensor(x), torch.as_tensor(y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError("Dataset x and y must have a first (sample) dimension")
        if len(x) != len(y):
            raise ValueError(f"Dataset x and y lengths differ: {len(x)} inputs, {len(y)} targets")
        if len(x) == 0:
            raise ValueError("Dataset is empty: x and y have no samples")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: Any) -> tuple[Any, Any]:
        return self.x[i], self.y[i]

    def to(self, device: torch.device | str) -> Dataset:
        """This dataset with its tensors on `device` (batches then need no copy)."""
        return Dataset(self.x.to(device), self.y.to(device))

    def __repr__(self) -> str:
        return f"Dataset(x={tuple(self.x.shape)}, y={tuple(self.y.shape)})"


class DataLoader:
    """Batches of a `Dataset` by slicing (or indexing a shuffled permutation of) its tensors.

    Any other dataset falls back to `torch.utils.data.DataLoader` (extra keyword arguments
    go to it). Shuffling draws from `generator`, seeded from torch's global RNG when not
    given, so `torch.manual_seed` makes the order reproducible and a checkpoint can save it.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if shuffle and generator is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
            generator = torch.Generator().manual_seed(seed)
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last, self.generator = shuffle, drop_last, generator
        self._fallback = None
        if not isinstance(dataset, Dataset):
            self._fallback = TorchDataLoader(
                dataset,
                batch_size,
                shuffle=shuffle,
                drop_last=drop_last,
                generator=generator,
                **kwargs,
            )
        elif kwargs:
            raise TypeError(f"unexpected arguments for an in-memory Dataset: {sorted(kwargs)}")

    def __len__(self) -> int:
        if self._fallback is not None:
            return len(self._fallback)
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self._fallback is not None:
            yield from self._fallback
            return
        x, y, bs = self.dataset.x, self.dataset.y, self.batch_size
        end = len(self) * bs
        if not self.shuffle:
            for i in range(0, end, bs):
                yield x[i : i + bs], y[i : i + bs]
            return
        perm = torch.randperm(len(x), generator=self.generator).to(x.device)
        for i in range(0, end, bs):
            idx = perm[i : i + bs]
            yield x[idx], y[idx]


class DataBunch:
    """The training and validation `DataLoader`s and the number of classes `c`.

    When both datasets are in-memory `Dataset`s it checks, before any training, that their
    inputs have the same shape and that integer labels lie in `[0, c)`.
    """

    def __init__(self, train_dl: Any, valid_dl: Any, c: int | None = None) -> None:
        self.train_dl, self.valid_dl, self.c = train_dl, valid_dl, c
        train_ds, valid_ds = self.train_ds, self.valid_ds
        if isinstance(train_ds, Dataset) and isinstance(valid_ds, Dataset):
            if train_ds.x.shape[1:] != valid_ds.x.shape[1:]:
                raise ValueError(
                    f"training and validation inputs differ in shape: "
                    f"{tuple(train_ds.x.shape[1:])} vs {tuple(valid_ds.x.shape[1:])}"
                )
            if c is not None:
                _check_labels(train_ds.y, c, "training")
                _check_labels(valid_ds.y, c, "validation")

    @classmethod
    def from_arrays(
        cls,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        x_valid: torch.Tensor,
        y_valid: torch.Tensor,
        bs: int,
        *,
        c: int | None = None,
        seed: int | None = None,
    ) -> DataBunch:
        """`get_data`'s four tensors as a DataBunch (`get_dls` batches); `c` defaults to the
        number of classes the integer labels show (largest label + 1)."""
        if c is None and not y_train.is_floating_point():
            c = int(torch.cat([y_train, y_valid]).max()) + 1
        train_ds, valid_ds = Dataset(x_train, y_train), Dataset(x_valid, y_valid)
        return cls(*get_dls(train_ds, valid_ds, bs, seed=seed), c=c)

    @property
    def train_ds(self) -> Any:
        return self.train_dl.dataset

    @property
    def valid_ds(self) -> Any:
        return self.valid_dl.dataset

    def __repr__(self) -> str:
        return f"DataBunch(train={self.train_ds!r}, valid={self.valid_ds!r}, c={self.c})"


def _check_labels(y: torch.Tensor, c: int, which: str) -> None:
    if y.is_floating_point() or y.ndim != 1:
        return  # regression or soft targets: no class range to check
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= c:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{which} labels must lie in [0, {c}) for c={c}, found label {bad}")


def get_dls(
    train_ds: Any, valid_ds: Any, bs: int, *, seed: int | None = None, **kwargs: Any
) -> tuple[DataLoader, DataLoader]:
    """A shuffled training `DataLoader` (batch `bs`) and a validation one (batch `2*bs`)."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return (
        DataLoader(train_ds, batch_size=bs, shuffle=True, generator=generator, **kwargs),
        DataLoader(valid_ds, batch_size=bs * 2, **kwargs),
    )

"""Checkpoints that resume a fit exactly: weights, optimizer, counters, RNG and callback state.

A checkpoint holds only tensors, numbers, strings and containers of them, so loading uses
`torch.load(..., weights_only=True)` and never unpickles code.

Two kinds: an epoch checkpoint (format 1), written after an epoch, resumes at the next
epoch; a snapshot (format 2), taken before any training batch, also holds its `position`
in the epoch (the batches done, and the RNG state from which the epoch drew its data
order), so a fit resumed from it redraws the same order, skips the batches done and goes on
from the very next batch: the same result as the fit it was taken from.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "checkpoint_state",
    "load_checkpoint",
    "restore_checkpoint",
    "restore_epoch_start",
    "restore_position",
    "rng_state",
    "save_checkpoint",
    "save_snapshot",
    "save_state",
    "snapshot_state",
]

FORMAT_VERSION = 1  # an epoch checkpoint
SNAPSHOT_VERSION = 2  # adds `position`: older readers refuse it rather than resume wrongly
_READABLE = (FORMAT_VERSION, SNAPSHOT_VERSION)


def _stateful_callbacks(cbs: Any) -> Iterator[tuple[str, Any]]:
    """(key, callback) for callbacks with `state_dict`; repeated names get `_1`, `_2`..."""
    seen: dict[str, int] = {}
    for cb in cbs:
        if not callable(getattr(type(cb), "state_dict", None)):
            continue
        name = cb.name
        n = seen.get(name, 0)
        seen[name] = n + 1
        yield (name if n == 0 else f"{name}_{n}"), cb


def rng_state(run: Any) -> dict[str, Any]:
    """The state of every RNG a fit draws from (torch, Python, NumPy, CUDA, the training
    loader's generator), in a checkpoint's plain format."""
    np_state: Any = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    generator = getattr(run.data.train_dl, "generator", None)
    if generator is not None:
        state["train_dl"] = generator.get_state()
    return state


def _restore_rng(run: Any, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator = getattr(run.data.train_dl, "generator", None)
    if "train_dl" in state and generator is not None:
        generator.set_state(state["train_dl"])


def checkpoint_state(run: Any) -> dict[str, Any]:
    """Everything needed to continue `run` after its current (finished) epoch."""
    learn = run.learn
    return {
        "version": FORMAT_VERSION,
        "model": learn.model.state_dict(),
        "opt": learn.opt.state_dict(),
        "epoch": int(run.epoch),
        "n_iter": int(run.n_iter),
        "rng": rng_state(run),
        "callbacks": {key: cb.state_dict() for key, cb in _stateful_callbacks(run.cbs)},
        "history": list(getattr(run, "epoch_history", [])),
    }


def snapshot_state(run: Any, batch: int, epoch_start_rng: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to continue `run` before training batch `batch` of its current
    epoch; `epoch_start_rng` is `rng_state` as the epoch began drawing its data order."""
    state = checkpoint_state(run)
    state["version"] = SNAPSHOT_VERSION
    state["epoch"] = int(run.epoch) - 1  # the epochs finished, as in an epoch checkpoint
    state["position"] = {
        "epoch": int(run.epoch),
        "batch": int(batch),
        "n_epochs": float(run.n_epochs),
        "epoch_start_rng": epoch_start_rng,
    }
    return state


def save_checkpoint(run: Any, path: str | Path) -> Path:
    """Write `checkpoint_state(run)` to `path` atomically (a crash never leaves half a file)."""
    return save_state(checkpoint_state(run), path)


def save_snapshot(run: Any, path: str | Path, batch: int, epoch_start_rng: dict[str, Any]) -> Path:
    """Write `snapshot_state(...)` to `path` atomically."""
    return save_state(snapshot_state(run, batch, epoch_start_rng), path)


def save_state(state: dict[str, Any], path: str | Path) -> Path:
    """`torch.save` to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`: tensors and plain data, never code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("version") not in _READABLE:
        raise ValueError(f"{path} is not a trainer checkpoint (format {FORMAT_VERSION} or 2)")
    return state


def restore_checkpoint(run: Any, state: dict[str, Any]) -> int:
    """Load `state` into `run` (inside `fit`, after `begin_fit`); returns the epoch to start at.

    For a snapshot, the weights and the optimizer load now; the counters, callbacks and RNG
    wait for `restore_position`, once the epoch has reached the snapshot's batch."""
    learn = run.learn
    learn.model.load_state_dict(state["model"])
    learn.opt.load_state_dict(state["opt"])
    position = state.get("position")
    if position is not None:
        return int(position["epoch"])
    _restore_progress(run, state, n_epochs=float(state["epoch"] + 1))
    return state["epoch"] + 1


def restore_epoch_start(run: Any, state: dict[str, Any]) -> None:
    """Set the RNGs as the snapshot's epoch had them when it drew its data order."""
    _restore_rng(run, state["position"]["epoch_start_rng"])


def restore_position(run: Any, state: dict[str, Any]) -> None:
    """Counters, callbacks' state and RNG as they were at the snapshot's batch."""
    _restore_progress(run, state, n_epochs=state["position"]["n_epochs"])


def _restore_progress(run: Any, state: dict[str, Any], n_epochs: float) -> None:
    run.n_iter = state["n_iter"]
    run.n_epochs = n_epochs
    run.epoch_history = list(state.get("history", []))  # absent in older checkpoints
    saved = state["callbacks"]
    for key, cb in _stateful_callbacks(run.cbs):
        if key in saved:
            cb.load_state_dict(saved[key])
    _restore_rng(run, state["rng"])

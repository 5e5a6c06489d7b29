"""Checkpoints that resume a fit exactly: weights, optimizer, counters, RNG and callback state.

A checkpoint holds only tensors, numbers, strings and containers of them, so loading uses
`torch.load(..., weights_only=True)` and never unpickles code.
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

__all__ = ["checkpoint_state", "load_checkpoint", "restore_checkpoint", "save_checkpoint"]

FORMAT_VERSION = 1


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


def _rng_state(run: Any) -> dict[str, Any]:
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
        "rng": _rng_state(run),
        "callbacks": {key: cb.state_dict() for key, cb in _stateful_callbacks(run.cbs)},
        "history": list(getattr(run, "epoch_history", [])),
    }


def save_checkpoint(run: Any, path: str | Path) -> Path:
    """Write `checkpoint_state(run)` to `path` atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint_state(run), f)
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
    if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a trainer checkpoint (format {FORMAT_VERSION})")
    return state


def restore_checkpoint(run: Any, state: dict[str, Any]) -> int:
    """Load `state` into `run` (inside `fit`, after `begin_fit`); returns the epoch to start at."""
    learn = run.learn
    learn.model.load_state_dict(state["model"])
    learn.opt.load_state_dict(state["opt"])
    run.n_iter = state["n_iter"]
    run.n_epochs = float(state["epoch"] + 1)
    run.epoch_history = list(state.get("history", []))  # absent in older checkpoints
    saved = state["callbacks"]
    for key, cb in _stateful_callbacks(run.cbs):
        if key in saved:
            cb.load_state_dict(saved[key])
    _restore_rng(run, state["rng"])
    return state["epoch"] + 1

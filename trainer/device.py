"""Where to train and how many CPU threads to use."""

from __future__ import annotations

import os

import torch

__all__ = ["available_cpus", "default_device", "default_threads", "set_threads"]


def default_device() -> torch.device:
    """CUDA when a GPU is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """One intra-op thread on machines with two CPUs or fewer, else torch's own choice.

    With two threads on two shared cores, one busy neighbour process made an epoch many
    times slower (see bench/threads.py); one thread loses little when the machine is idle.
    """
    return 1 if available_cpus() <= 2 else torch.get_num_threads()


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count (`default_threads()` when `n` is None); returns it."""
    n = default_threads() if n is None else n
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n

"""Reading a monitored metric (`"valid_loss"`) and deciding whether it improved.

Shared by the callbacks that watch a metric: `EarlyStopping` and `SaveModel`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["epoch_metric", "is_improvement", "metric_in", "resolve_mode"]


def epoch_metric(run: Any, monitor: str) -> float:
    """The value of `monitor` (`"valid_loss"`, `"train_accuracy"`...) in `run.epoch_stats`."""
    phase, _, metric = monitor.partition("_")
    stats = run.epoch_stats.get(phase, {})
    if metric not in stats:
        known = [f"{p}_{m}" for p, ms in run.epoch_stats.items() for m in ms]
        raise ValueError(
            f"monitor {monitor!r} is not among this epoch's stats {known}; "
            "is AvgStatsCallback attached?"
        )
    return stats[metric]


def metric_in(stats: dict[str, Any], monitor: str) -> float | None:
    """The value of `monitor` in one epoch's stats (`{"train": {...}, "valid": {...}}`), or
    None when that epoch lacks it."""
    phase, _, metric = monitor.partition("_")
    value = stats.get(phase, {}).get(metric)
    return None if value is None else float(value)


def resolve_mode(monitor: str, mode: str) -> str:
    """Resolve `mode`: "auto" minimises metrics whose name holds "loss", maximises others."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "min" if "loss" in monitor else "max"
    return mode


def is_improvement(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether `value` beats `best` by more than `min_delta` (anything beats no best yet)."""
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta

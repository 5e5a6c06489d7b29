"""The one downsampler of the batch-loss series, for an epoch's curve and for a run's history.

Bucket means: with n points and k buckets, bucket b holds the points i (from 0) with
i * k // n == b (equal buckets, in order). Its loss is the mean of theirs (null if any is
null: a NaN inside a bucket must not vanish into a mean), its iter and lr those of its last
point. The browser only decimates further, per pixel, when it draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Series", "batch_history", "downsample"]

# Columns: {"iter": [...], "loss": [...], "lr": [...]}, equal lengths, in iter order.
Series = dict[str, list[Any]]


def downsample(
    iters: Sequence[int], losses: Sequence[float | None], lrs: Sequence[Any], points: int
) -> Series:
    """At most `points` points of the series, as columns; the series itself when it is short."""
    if points < 1:
        raise ValueError(f"points must be at least 1, not {points}")
    n = len(iters)
    if not len(losses) == len(lrs) == n:
        raise ValueError("iters, losses and lrs must have the same length")
    if n <= points:
        return {"iter": list(iters), "loss": list(losses), "lr": list(lrs)}
    sums = [0.0] * points
    counts = [0] * points
    broken = [False] * points
    for i, loss in enumerate(losses):
        bucket = i * points // n
        counts[bucket] += 1
        if loss is None:
            broken[bucket] = True
        else:
            sums[bucket] += loss
    last = [-(-(b + 1) * n // points) - 1 for b in range(points)]  # ceil((b+1)n/k) - 1
    return {
        "iter": [iters[i] for i in last],
        "loss": [None if broken[b] else sums[b] / counts[b] for b in range(points)],
        "lr": [lrs[i] for i in last],
    }


def batch_history(
    epochs: Sequence[dict[str, Any]], batches: Sequence[dict[str, Any]], points: int
) -> list[dict[str, Any]]:
    """A run's whole batch-loss series as rows ({iter, loss, lr}), at most `points` of them.

    Each finished epoch contributes its own curve (the `batches` columns of its epoch
    message); the throttled live `batch` messages fill in only epochs that have no curve
    (the one still training, or runs recorded before epochs carried curves).
    """
    iters: list[int] = []
    losses: list[float | None] = []
    lrs: list[Any] = []
    covered = set()
    for message in epochs:
        curve = message.get("batches")
        if curve and curve.get("iter"):
            covered.add(message["epoch"])
            iters += curve["iter"]
            losses += curve["loss"]
            lrs += curve["lr"]
    for message in batches:
        if message.get("epoch") not in covered:
            iters.append(message["iter"])
            losses.append(message["loss"])
            lrs.append(message.get("lr"))
    order = sorted(range(len(iters)), key=iters.__getitem__)
    series = downsample(
        [iters[i] for i in order], [losses[i] for i in order], [lrs[i] for i in order], points
    )
    return [
        {"iter": i, "loss": loss, "lr": lr}
        for i, loss, lr in zip(series["iter"], series["loss"], series["lr"], strict=True)
    ]

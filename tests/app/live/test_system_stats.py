"""SystemStatsCallback on a real fit: the process's CPU and memory, at most once an interval."""

from __future__ import annotations

import itertools
import time
from typing import Any

import psutil
import pytest

from app.catalog import recipe_registry
from app.live.system_stats import SystemStatsCallback
from trainer import Runner

pytestmark = pytest.mark.timeout(120)


def _fit(interval: float, epochs: int = 2) -> list[tuple[float, dict[str, Any]]]:
    seen: list[tuple[float, dict[str, Any]]] = []
    callback = SystemStatsCallback(lambda m: seen.append((time.perf_counter(), m)), interval)
    params = recipe_registry.validate_params(
        "mlp", {"epochs": epochs, "bs": 2, "dataset": "digits", "lr": 0.05}
    )
    Runner(cbs=[callback]).fit(params.epochs, recipe_registry.build("mlp", params))
    return seen


def test_it_samples_the_process_at_most_once_an_interval() -> None:
    seen = _fit(interval=0.02, epochs=4)
    assert len(seen) >= 2, "four epochs of 719 batches last longer than 0.04 s"
    times = [at for at, _ in seen]
    assert all(b - a >= 0.018 for a, b in itertools.pairwise(times))  # sampling takes ~ms
    rss = psutil.Process().memory_info().rss
    for _, message in seen:
        assert message["type"] == "system"
        assert 0 <= message["cpu_percent"] <= 100 * psutil.cpu_count()
        assert 0.5 * rss < message["rss_bytes"] < 2 * rss  # this process's resident memory
        assert message["iter"] > 0 and message["epoch"] in range(4)
    assert max(m["cpu_percent"] for _, m in seen) > 10  # it was training, not idle


def test_nothing_is_sent_before_the_first_interval_has_passed() -> None:
    assert _fit(interval=3600) == []


def test_a_run_on_the_cpu_carries_no_gpu_figures() -> None:
    seen = _fit(interval=0.02, epochs=1)
    assert seen and not any("gpu_percent" in message for _, message in seen)

"""GPU statistics through NVML, with a small fake `pynvml` (this machine has no GPU): what is
sampled, how often, which device, and that every failure only leaves the GPU figures out."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from app.live.gpu_stats import GpuSampler, cuda_device_index
from app.live.system_stats import SystemStatsCallback


class NVMLError(Exception):
    pass


class FakeNVML:
    """The part of pynvml the sampler uses; `fail` names a call that raises NVMLError."""

    NVMLError = NVMLError

    def __init__(self, fail: str | None = None) -> None:
        self.fail, self.calls = fail, []

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        if name == self.fail:
            raise NVMLError(f"{name} failed")

    def nvmlInit(self) -> None:
        self._call("init")

    def nvmlShutdown(self) -> None:
        self._call("shutdown")

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        self._call("by_index", index)
        return f"gpu{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        self._call("by_uuid", uuid)
        return uuid

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> Any:
        self._call("utilization", handle)
        return SimpleNamespace(gpu=87, memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:
        self._call("memory", handle)
        return SimpleNamespace(used=3 * 2**30, total=80 * 2**30, free=77 * 2**30)


class CudaModel:
    """A model whose parameters say they live on a CUDA device (none is needed to say so)."""

    def __init__(self, index: int | None = 0) -> None:
        self.device = torch.device("cuda", index) if index is not None else torch.device("cpu")

    def parameters(self):
        yield SimpleNamespace(device=self.device)


def _callback(nvml: Any, model: Any, interval: float = 0.0) -> tuple[SystemStatsCallback, list]:
    seen: list[dict[str, Any]] = []
    callback = SystemStatsCallback(seen.append, interval, nvml=nvml)
    callback.set_runner(SimpleNamespace(model=model, epoch=1, n_iter=42))  # type: ignore[arg-type]
    return callback, seen


def test_a_run_on_cuda_reports_its_gpu_beside_cpu_and_memory() -> None:
    nvml = FakeNVML()
    callback, seen = _callback(nvml, CudaModel(0))
    callback.begin_fit()
    callback.after_batch()
    (message,) = seen
    assert message["gpu_percent"] == 87.0
    assert (message["gpu_memory_bytes"], message["gpu_memory_total"]) == (3 * 2**30, 80 * 2**30)
    assert message["cpu_percent"] >= 0 and message["iter"] == 42
    callback.after_fit()
    assert nvml.calls[0] == ("init",) and nvml.calls[-1] == ("shutdown",)


def test_the_gpu_is_sampled_with_the_cpu_at_most_once_an_interval() -> None:
    nvml = FakeNVML()
    callback, seen = _callback(nvml, CudaModel(0), interval=3600)
    callback.begin_fit()
    for _ in range(100):
        callback.after_batch()
    assert seen == [] and [c for c in nvml.calls if c[0] == "utilization"] == []


def test_cuda_devices_map_to_nvml_through_cuda_visible_devices(monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    nvml = FakeNVML()
    assert GpuSampler.open(1, nvml) is not None  # type: ignore[arg-type]
    assert ("by_index", 1) in nvml.calls
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8a3f")
    assert GpuSampler.open(0, nvml).handle == "GPU-8a3f"  # type: ignore[arg-type, union-attr]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert GpuSampler.open(2, nvml).handle == "gpu2"  # type: ignore[arg-type, union-attr]


def test_a_model_off_cuda_never_asks_nvml() -> None:
    nvml = FakeNVML()
    callback, seen = _callback(nvml, CudaModel(None))
    callback.begin_fit()
    callback.after_batch()
    assert nvml.calls == [] and "gpu_percent" not in seen[0]
    assert cuda_device_index(torch.nn.Linear(2, 2)) is None


@pytest.mark.parametrize("fail", ["init", "by_index"])
def test_no_driver_or_no_device_leaves_the_gpu_out_silently(fail: str) -> None:
    callback, seen = _callback(FakeNVML(fail=fail), CudaModel(0))
    callback.begin_fit()
    callback.after_batch()
    assert "gpu_percent" not in seen[0] and seen[0]["rss_bytes"] > 0


def test_an_nvml_error_while_training_stops_the_gpu_figures_not_the_run() -> None:
    nvml = FakeNVML(fail="memory")
    callback, seen = _callback(nvml, CudaModel(0))
    callback.begin_fit()
    callback.after_batch()
    callback.after_batch()
    assert [("gpu_percent" in m) for m in seen] == [False, False]
    assert [c[0] for c in nvml.calls].count("utilization") == 1  # not asked again
    callback.after_fit()  # shutting down twice is harmless


def test_without_pynvml_installed_there_are_no_gpu_figures(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    assert GpuSampler.open(0) is None
    callback, seen = _callback(None, CudaModel(0))
    callback.begin_fit()
    callback.after_batch()
    assert "gpu_percent" not in seen[0]

"""GpuSampler: one GPU's utilisation and memory through NVML (`pip install 'fitboard[gpu]'`,
the `nvidia-ml-py` package, module `pynvml`), for the `system` messages of a run on CUDA.

Optional in every way: without pynvml, without a driver, or on a run that is not on CUDA,
`GpuSampler.open` returns None and the run's `system` messages carry CPU and memory only. An
NVML error while sampling stops the sampling, never the run.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from types import ModuleType
from typing import Any

import torch

__all__ = ["GpuSample", "GpuSampler", "cuda_device_index"]

log = logging.getLogger(__name__)

GpuSample = tuple[float, int, int]  # utilisation %, memory used and total (bytes)


def cuda_device_index(model: Any) -> int | None:
    """The CUDA device index of the model's first parameter, or None when it is not on CUDA."""
    try:
        parameter = next(model.parameters())
    except (AttributeError, StopIteration, TypeError):
        return None
    device = parameter.device
    if device.type != "cuda":
        return None
    return device.index if device.index is not None else torch.cuda.current_device()


def _import_nvml() -> ModuleType | None:
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None


class GpuSampler:
    """Samples one GPU by its NVML handle; `sample()` is None once NVML has failed."""

    def __init__(self, nvml: ModuleType, handle: Any) -> None:
        self.nvml, self.handle = nvml, handle

    @classmethod
    def open(cls, cuda_index: int, nvml: ModuleType | None = None) -> GpuSampler | None:
        """A sampler of CUDA device `cuda_index`, or None (no pynvml, no driver, no device)."""
        nvml = nvml if nvml is not None else _import_nvml()
        if nvml is None:
            return None
        try:
            nvml.nvmlInit()
            return cls(nvml, _handle(nvml, cuda_index))
        except Exception as exc:  # NVMLError and its many subclasses, or a library missing
            log.debug("no GPU statistics: %s", exc)
            return None

    def sample(self) -> GpuSample | None:
        """(utilisation %, memory used, memory total) now, or None once NVML failed."""
        if self.handle is None:
            return None
        try:
            rates = self.nvml.nvmlDeviceGetUtilizationRates(self.handle)
            memory = self.nvml.nvmlDeviceGetMemoryInfo(self.handle)
            return float(rates.gpu), int(memory.used), int(memory.total)
        except Exception as exc:  # a lost GPU or driver must not fail the run
            log.debug("GPU statistics stop: %s", exc)
            self.close()
            return None

    def close(self) -> None:
        if self.handle is None:
            return
        self.handle = None
        with contextlib.suppress(Exception):  # already shut down, or never fully up
            self.nvml.nvmlShutdown()


def _handle(nvml: ModuleType, cuda_index: int) -> Any:
    """NVML's handle of CUDA device `cuda_index`: CUDA numbers the devices that
    CUDA_VISIBLE_DEVICES lists, in its order; NVML numbers every device of the machine."""
    visible = [item.strip() for item in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    visible = [item for item in visible if item]
    if cuda_index < len(visible):
        chosen = visible[cuda_index]
        if chosen.isdigit():
            return nvml.nvmlDeviceGetHandleByIndex(int(chosen))
        return nvml.nvmlDeviceGetHandleByUUID(chosen)  # GPU-xxxxxxxx
    return nvml.nvmlDeviceGetHandleByIndex(cuda_index)

"""SystemStatsCallback: the CPU use and memory of the process a run trains in, as `system`
messages, sampled by psutil at most once a second from the training loop, and, for a run on
CUDA with `nvidia-ml-py` installed, its GPU's utilisation and memory (NVML, `gpu_stats`).

Cheap on the hot path: between samples, a batch costs one clock read. The figures are the
process's (with the threads backend that is the server, shared with any other run it
trains), as `top` would show them; the GPU's are the whole device's, as `nvidia-smi` shows.
"""

from __future__ import annotations

import time
from types import ModuleType

import psutil

from app.live.gpu_stats import GpuSampler, cuda_device_index
from app.live.messages import system_message
from app.live.stats_callback import Publish
from trainer import Callback

__all__ = ["SystemStatsCallback"]


class SystemStatsCallback(Callback):
    """Publishes `system` {cpu_percent, rss_bytes, epoch, iter} every `interval` seconds of
    training (never more often), with {gpu_percent, gpu_memory_bytes, gpu_memory_total} when
    the model is on CUDA and NVML answers. `nvml` replaces the `pynvml` module (tests)."""

    def __init__(
        self, publish: Publish, interval: float = 1.0, nvml: ModuleType | None = None
    ) -> None:
        self.publish = publish
        self.interval = interval
        self.process = psutil.Process()
        self.nvml = nvml
        self.gpu: GpuSampler | None = None
        self._last = 0.0

    def begin_fit(self) -> None:
        self.process.cpu_percent(None)  # starts the measurement: the first call returns 0
        self._last = time.perf_counter()
        index = cuda_device_index(self.run.model)
        self.gpu = GpuSampler.open(index, self.nvml) if index is not None else None

    def after_fit(self) -> None:
        if self.gpu is not None:
            self.gpu.close()
            self.gpu = None

    def after_batch(self) -> None:
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        with self.process.oneshot():
            cpu, rss = self.process.cpu_percent(None), self.process.memory_info().rss
        gpu = self.gpu.sample() if self.gpu is not None else None
        self.publish(system_message(cpu, rss, self.run.epoch, self.run.n_iter, gpu=gpu))

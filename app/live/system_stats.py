"""SystemStatsCallback: the CPU use and memory of the process a run trains in, as `system`
messages, sampled by psutil at most once a second from the training loop.

Cheap on the hot path: between samples, a batch costs one clock read. The figures are the
process's (with the threads backend that is the server, shared with any other run it
trains), as `top` would show them; a GPU's are not sampled yet.
"""

from __future__ import annotations

import time

import psutil

from app.live.messages import system_message
from app.live.stats_callback import Publish
from trainer import Callback

__all__ = ["SystemStatsCallback"]


class SystemStatsCallback(Callback):
    """Publishes `system` {cpu_percent, rss_bytes, epoch, iter} every `interval` seconds of
    training (never more often)."""

    def __init__(self, publish: Publish, interval: float = 1.0) -> None:
        self.publish = publish
        self.interval = interval
        self.process = psutil.Process()
        self._last = 0.0

    def begin_fit(self) -> None:
        self.process.cpu_percent(None)  # starts the measurement: the first call returns 0
        self._last = time.perf_counter()

    def after_batch(self) -> None:
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        with self.process.oneshot():
            cpu, rss = self.process.cpu_percent(None), self.process.memory_info().rss
        self.publish(system_message(cpu, rss, self.run.epoch, self.run.n_iter))

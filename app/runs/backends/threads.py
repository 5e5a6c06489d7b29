"""ThreadBackend (`FITBOARD_BACKEND=threads`, the default): runs train in a bounded pool of
worker threads of this process, first come first served; the rest wait in one FIFO queue."""

from __future__ import annotations

import logging
import queue
import threading
from functools import partial
from typing import Any

import torch

from app.catalog import CallbackCatalog, RecipeRegistry
from app.catalog.builtin_recipes import warm_up
from app.config import usable_cores
from app.live.messages import StopSource
from app.runs.backends.base import Command, Placement, Resources, RunOutcome, RunReporter, Stop
from app.runs.backends.execution import RunExecution

__all__ = ["ThreadBackend"]

log = logging.getLogger(__name__)


class ThreadBackend:
    """`workers` threads, each training one run at a time with `torch_threads` intra-op
    threads."""

    name = "threads"

    def __init__(
        self,
        recipes: RecipeRegistry,
        callbacks: CallbackCatalog,
        *,
        workers: int,
        torch_threads: int,
    ) -> None:
        self.recipes, self.callbacks = recipes, callbacks
        self.workers, self.torch_threads = workers, torch_threads
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._executions: dict[str, RunExecution] = {}
        self._threads: list[threading.Thread] = []
        self._reporter: RunReporter | None = None

    def start(self, reporter: RunReporter) -> None:
        self._reporter = reporter
        torch.set_num_threads(self.torch_threads)
        # Off the workers: a run submitted meanwhile waits only on the import lock it needs.
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
        for index in range(self.workers):
            worker = threading.Thread(target=self._work, name=f"run-worker-{index}", daemon=True)
            worker.start()
            self._threads.append(worker)

    def submit(self, run_id: str, resources: Resources) -> None:
        self._queue.put(run_id)  # the pool's size, not `resources`, bounds runs at once

    def control(self, run_id: str, command: Command) -> bool:
        execution = self._executions.get(run_id)  # a dict read is atomic: no lock to look
        if execution is None:
            return False
        execution.control(command)
        return True

    def shutdown(self, timeout: float) -> None:
        stop = Stop(StopSource.SHUTDOWN, "the server is shutting down")
        for execution in list(self._executions.values()):
            execution.control(stop)
        for _ in self._threads:
            self._queue.put(None)
        for worker in self._threads:
            worker.join(timeout)

    def capacity(self) -> Resources:
        return Resources(cpus=usable_cores(), gpus=torch.cuda.device_count())

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": len(self._threads)}

    def _work(self) -> None:
        torch.set_num_threads(self.torch_threads)  # per thread: set it deliberately
        while (run_id := self._queue.get()) is not None:
            try:
                self._execute(run_id)
            except Exception:  # a bug here must not take the worker (and its queue) down
                log.exception("run %s: unexpected error in the thread backend", run_id)

    def _execute(self, run_id: str) -> None:
        reporter = self._reporter
        assert reporter is not None, "ThreadBackend.start() has not run"
        # Registered before `begin`, so a command sent once the run is `running` finds it.
        execution = RunExecution(
            self.recipes,
            self.callbacks,
            partial(reporter.publish, run_id),
            partial(reporter.held, run_id),
        )
        self._executions[run_id] = execution
        try:
            launch = reporter.begin(run_id, Placement.here(self.name))
            if launch is None:
                return
            outcome: RunOutcome = execution.execute(launch)
            reporter.end(run_id, outcome)  # still registered: a late Stop finds it, harmlessly
        finally:
            self._executions.pop(run_id, None)

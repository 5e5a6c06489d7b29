"""RunActor: one run in a Ray worker process (the Ray backend's far side).

A plain class: `RayBackend` wraps it with `ray.remote` (so importing this module needs no
Ray). Its methods are called concurrently (the actor is threaded, `max_concurrency` > 1):
`execute` trains on one thread for the whole fit while `control` and `drain` come and go on
others, exactly as the server's threads call a `RunExecution` in the thread backend.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

import torch

from app.catalog import callback_catalog, load_modules, recipe_registry
from app.catalog.builtin_recipes import warm_up
from app.live.messages import plain
from app.runs.backends.base import Command, Launch, Placement, RunOutcome
from app.runs.backends.execution import RunExecution
from app.runs.backends.mailbox import Entry, Held, Mailbox, Published

__all__ = ["RunActor"]


class RunActor:
    """Builds and fits one run's Runner here, buffering its messages for the server."""

    def __init__(self, recipe_modules: Sequence[str], torch_threads: int) -> None:
        torch.set_num_threads(torch_threads)
        load_modules(recipe_modules)  # the user's recipes, registered in this process too
        # A new process: pay the first run's imports while Ray places the actor, not in its
        # first epoch (the run becomes `running` only once this returns).
        warm_up()
        self.mailbox = Mailbox()
        self.execution = RunExecution(
            recipe_registry, callback_catalog, publish=self._publish, on_hold=self._held
        )

    def placement(self) -> Placement:
        """Where this actor runs; answering at all means Ray has placed it."""
        import ray  # present: this code runs inside a Ray worker

        node = ray.get_runtime_context().get_node_id()
        return Placement(backend="ray", host=socket.gethostname(), pid=os.getpid(), node=node)

    def execute(self, launch: Launch) -> RunOutcome:
        """Fit the run to its end (one call for the whole fit)."""
        try:
            return self.execution.execute(launch)
        finally:
            self.mailbox.close()

    def control(self, command: Command) -> None:
        """Apply a command at the next batch boundary (raises CommandRefused)."""
        self.execution.control(command)

    def drain(self, wait: float) -> list[Entry]:
        """What the run said since the last drain, waiting up to `wait` s for something."""
        return self.mailbox.drain(wait)

    def _publish(self, message: dict[str, Any]) -> dict[str, Any]:
        message = plain(message)  # only plain data crosses to the server (no tensors)
        self.mailbox.put(Published(message))
        return message  # numbered by the server's hub when it takes it

    def _held(self, paused: bool, epoch: int, iter: int) -> None:
        self.mailbox.put(Held(paused, epoch, iter))

"""The seam between deciding *what* happens to a run and *where* its Runner executes.

`RunManager` owns a run's life: its states, its rows, its messages. A `RunBackend` owns
where the run's `trainer.Runner` executes: threads of this process (`ThreadBackend`), and in
time a Ray actor or a remote process. The two talk through three small things:

- the manager calls `submit(run_id)` to queue a run, `control(run_id, command)` to steer one
  that executes, and `shutdown` once;
- the backend calls the manager back through a `RunReporter`: `begin(run_id)` when it can
  execute the run (the manager answers with the `Launch`, or None when the run left the
  queue meanwhile), `publish(run_id, message)` for every message the run emits (the one
  entry point into the hub, whatever the backend), and `end(run_id, outcome)` once;
- everything that crosses is plain data (`Launch`, the commands, `RunOutcome`), so that a
  backend can ship it to another process.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from app.catalog import CallbackParams, TrainParams
from app.live.messages import StopSource

__all__ = [
    "Attach",
    "AttachedCallback",
    "Command",
    "CommandRefused",
    "Detach",
    "Evaluate",
    "Launch",
    "Pause",
    "Placement",
    "Resources",
    "Resume",
    "RunBackend",
    "RunOutcome",
    "RunReporter",
    "SetHyper",
    "Snapshot",
    "Stop",
]


@dataclass(frozen=True)
class AttachedCallback:
    """A catalog callback on a run: its id on that run, its name and validated parameters."""

    id: str
    name: str
    params: CallbackParams


@dataclass(frozen=True)
class Resources:
    """What one run asks of the machine that executes it. Ray places the run's actor only
    where they are free (fractions allowed); the thread backend checks them against this
    machine and otherwise leaves placement to its worker pool."""

    cpus: float = 1.0
    gpus: float = 0.0

    def fits(self, capacity: Resources) -> dict[str, str]:
        """Why this request cannot fit on any one node of `capacity`, per field (empty: fits)."""
        problems = {}
        for field, have in (("cpus", capacity.cpus), ("gpus", capacity.gpus)):
            want = getattr(self, field)
            if want > have:
                problems[field] = f"{want:g} asked, but the largest node has {have:g}"
        return problems

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Placement:
    """Where a run executes once its backend placed it: shown on the run and its page."""

    backend: str
    host: str
    pid: int
    node: str | None = None  # the cluster's id for the node (Ray's node id)

    @classmethod
    def here(cls, backend: str) -> Placement:
        """This process on this machine."""
        return cls(backend=backend, host=socket.gethostname(), pid=os.getpid())

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Launch:
    """Everything needed to execute a run, as the store holds it when the run starts."""

    run_id: str
    recipe: str
    params: TrainParams
    callbacks: tuple[AttachedCallback, ...]
    run_dir: Path  # the run's own directory: checkpoints go here
    resume_from: Path | None = None  # a checkpoint to continue from
    # Optimizer hyperparameters set before its first batch: a fork's edits, which the
    # parent's optimizer state (in the snapshot) would otherwise override.
    hypers: dict[str, float] | None = None


# --- commands: each takes effect at the run's next batch boundary ----------------------------


@dataclass(frozen=True)
class Stop:
    """End the fit at the next batch boundary; `source` is who asked, `details` go into the
    stop reason (a pruner's values)."""

    source: StopSource
    message: str
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Attach:
    """Build a catalog callback and add it to the fit."""

    callback: AttachedCallback


@dataclass(frozen=True)
class Detach:
    """Remove the callback attached with this id."""

    callback_id: str


@dataclass(frozen=True)
class SetHyper:
    """Set optimizer hyperparameters (`{"lr": 0.1}`...) in every param group; the run says
    where they took effect in a `hyper` message."""

    values: dict[str, float]


@dataclass(frozen=True)
class Pause:
    """Hold at the next batch boundary, the run's state kept in memory."""


@dataclass(frozen=True)
class Resume:
    """Go on from where a Pause held."""


@dataclass(frozen=True)
class Evaluate:
    """Run validation now, at the next batch boundary; the run's training is untouched."""


@dataclass(frozen=True)
class Snapshot:
    """Write a snapshot of the fit to `path` before its next training batch, for the fork
    `fork_id`; a `fork` message says where it was taken (or why it was not)."""

    path: Path
    fork_id: str


Command = Stop | Attach | Detach | SetHyper | Pause | Resume | Evaluate | Snapshot


class CommandRefused(Exception):
    """The run cannot carry out a command (a callback that fails to build); says why."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run's fit ended: its stop reason (a `stop_reason` object, None when it ran to
    the end), the error that ended it, and its last epoch message as published."""

    stop_reason: dict[str, Any] | None = None
    error: str | None = None
    last_epoch: dict[str, Any] | None = None


class RunReporter(Protocol):
    """What a backend tells the manager (implemented by `RunManager`). Any thread."""

    def begin(self, run_id: str, placement: Placement) -> Launch | None:
        """The backend can execute `run_id` now, where `placement` says: the manager marks it
        running and returns its Launch, or None if the run must not execute (cancelled, or
        the manager is closing)."""
        ...

    def publish(self, run_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A message the run emitted; returns it as numbered. Never blocks."""
        ...

    def held(self, run_id: str, paused: bool, epoch: int, iter: int) -> None:
        """The run began (`paused`) or ended holding at a batch boundary, at `epoch` after
        `iter` training batches. Called on the training thread: must not block for long."""
        ...

    def end(self, run_id: str, outcome: RunOutcome) -> None:
        """The run that `begin` launched has finished executing, as `outcome` says."""
        ...


class RunBackend(Protocol):
    """Where runs execute. Every method may be called from any thread."""

    name: str  # FITBOARD_BACKEND's value for it

    def start(self, reporter: RunReporter) -> None:
        """Get ready to execute runs, reporting to `reporter`."""
        ...

    def submit(self, run_id: str, resources: Resources) -> None:
        """Queue a run; call `reporter.begin(run_id, placement)` once it can execute with
        `resources`. Never blocks."""
        ...

    def control(self, run_id: str, command: Command) -> bool:
        """Deliver `command` to a run this backend executes (or is about to); False if it has
        no such run. Raises CommandRefused when the run cannot carry it out."""
        ...

    def shutdown(self, timeout: float) -> None:
        """Stop executing runs at their next batch (source `shutdown`) and wait for their
        `end`, at most `timeout` seconds; start nothing more."""
        ...

    def capacity(self) -> Resources:
        """The most one run may ask for: the largest node's CPUs and GPUs. Any thread."""
        ...

    def describe(self) -> dict[str, Any]:
        """Facts for /api/health: `backend` (its name) and `workers` (runs at once)."""
        ...

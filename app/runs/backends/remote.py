"""RemoteBackend: runs whose Runner executes in a client's own process (a script, a notebook,
`fitboard run --server`), which reports to the server over `WS /ws/report/{run_id}`.

The server does not execute these runs; it steers them. `control` turns a command into a
plain JSON frame and hands it to the run's socket, where the client applies it at its next
batch boundary, exactly as `RunExecution` does for a run trained here. While the client is
briefly away (a dropped connection, a server restart) frames wait and go down when it is
back; the heartbeat (`app.runs.external`) decides when it is gone for good.

What the service publishes on such a run (a `callback` message when one is attached) is
sent down too, as an `emit` frame: the client numbers it in with its own messages, so the
run's log has one numbering, the client's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.runs.backends.base import (
    Attach,
    Command,
    Detach,
    Evaluate,
    Pause,
    Resume,
    RunReporter,
    SetHyper,
    Stop,
)

__all__ = ["RemoteBackend", "command_frame"]

Frame = dict[str, Any]
Send = Callable[[Frame], None]  # hands a frame to a socket's sender; never blocks

MAX_WAITING_FRAMES = 1000  # per run, while its client is away


def command_frame(command: Command) -> Frame | None:
    """The wire form of a command (docs/api.md), or None for one a client cannot carry out."""
    match command:
        case Stop(source=source, message=message):
            return {
                "type": "command",
                "command": "stop",
                "source": source.value,
                "message": message,
            }
        case Attach(callback=attached):
            params = attached.params.model_dump(mode="json")
            return {
                "type": "command",
                "command": "attach",
                "id": attached.id,
                "name": attached.name,
                "params": params,
            }
        case Detach(callback_id=callback_id):
            return {"type": "command", "command": "detach", "id": callback_id}
        case SetHyper(values=values):
            return {"type": "command", "command": "set_hyper", "values": dict(values)}
        case Pause():
            return {"type": "command", "command": "pause"}
        case Resume():
            return {"type": "command", "command": "resume"}
        case Evaluate():
            return None  # the client's Runner has no validation recipe the server knows
    return None


@dataclass
class _Link:
    """One external run: its socket's sender while connected, the frames waiting otherwise."""

    send: Send | None = None
    waiting: list[Frame] = field(default_factory=list)


class RemoteBackend:
    """The live external runs and their sockets. Every method may be called from any thread."""

    name = "remote"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[str, _Link] = {}

    # --- RunBackend -------------------------------------------------------------------------

    def start(self, reporter: RunReporter) -> None:
        """Nothing to start: clients connect when they report."""

    def submit(self, run_id: str) -> None:
        raise NotImplementedError("external runs are registered by their client, not queued")

    def control(self, run_id: str, command: Command) -> bool:
        """Send `command` to the run's client (now, or when it is back); False if this is not
        a live external run, or the client cannot carry the command out."""
        frame = command_frame(command)
        return frame is not None and self._deliver(run_id, frame)

    def shutdown(self, timeout: float) -> None:
        """Leave external runs alone: their clients train on and report to the next server."""

    def describe(self) -> dict[str, Any]:
        with self._lock:
            connected = sum(link.send is not None for link in self._links.values())
        return {"backend": self.name, "external_runs": len(self._links), "connected": connected}

    # --- the external runs' side ------------------------------------------------------------

    def open(self, run_id: str) -> None:
        """A live external run: commands for it are accepted from now on."""
        with self._lock:
            self._links.setdefault(run_id, _Link())

    def close(self, run_id: str) -> None:
        """The run finished or was interrupted: no more commands for it."""
        with self._lock:
            self._links.pop(run_id, None)

    def has(self, run_id: str) -> bool:
        """Whether `run_id` is a live external run (its client connected or briefly away)."""
        with self._lock:
            return run_id in self._links

    def connect(self, run_id: str, send: Send) -> bool:
        """The run's client is connected, its frames go to `send` (the waiting ones first);
        False if the run is not live."""
        with self._lock:
            link = self._links.get(run_id)
            if link is None:
                return False
            link.send = send
            for frame in link.waiting:  # under the lock: nothing newer can overtake them
                send(frame)
            link.waiting.clear()
        return True

    def disconnect(self, run_id: str, send: Send) -> None:
        """That socket is gone (a newer one of the same run may already have replaced it)."""
        with self._lock:
            link = self._links.get(run_id)
            if link is not None and link.send == send:  # bound methods: equal, not identical
                link.send = None

    def forward(self, run_id: str) -> Callable[[dict[str, Any]], None]:
        """The hub's relay for this run: a message the service published, sent down for the
        client to number."""

        def emit(message: dict[str, Any]) -> None:
            self._deliver(run_id, {"type": "emit", "message": message})

        return emit

    def _deliver(self, run_id: str, frame: Frame) -> bool:
        with self._lock:  # `send` never blocks: frames keep the order they were given in
            link = self._links.get(run_id)
            if link is None:
                return False
            if link.send is not None:
                link.send(frame)
            elif len(link.waiting) < MAX_WAITING_FRAMES:
                link.waiting.append(frame)
            else:
                return False
            return True

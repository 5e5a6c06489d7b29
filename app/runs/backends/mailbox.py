"""Mailbox: what a run in another process has to tell the server, until the server takes it.

The training thread only appends (never blocks, never waits on the network); the server
takes everything at once with `drain`, a long poll, so one call carries many messages
(a Ray actor's mailbox backs up near 10k calls a second: one call per batch would not do).

The box is bounded. When it is full, the oldest `batch` message goes first: those are a
throttled live sample of the loss, and every epoch message carries that epoch's whole batch
curve, so nothing the history keeps is lost. Anything else (status, epoch, callback, hold)
is kept in order whatever the bound: there are few of them, and dropping one would leave a
gap in the run's history.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["Held", "Mailbox", "Published"]

DEFAULT_CAPACITY = 10_000


@dataclass(frozen=True)
class Published:
    """A message the run emitted (unnumbered: the server's hub numbers it)."""

    message: dict[str, Any]

    @property
    def coalescible(self) -> bool:
        return self.message.get("type") == "batch"


@dataclass(frozen=True)
class Held:
    """The run began (`paused`) or stopped holding at a batch boundary."""

    paused: bool
    epoch: int
    iter: int

    coalescible = False


Entry = Published | Held


class Mailbox:
    """A bounded, thread-safe queue of entries, drained in order."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.dropped = 0  # batch messages let go because the box was full
        self._entries: deque[Entry] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, entry: Entry) -> None:
        """Add an entry; when full, make room by dropping the oldest batch message."""
        with self._ready:
            full = len(self._entries) >= self.capacity
            # Full of messages that must stay: the newest batch sample is the one to go.
            if full and not self._drop_oldest_batch() and entry.coalescible:
                self.dropped += 1
                return
            self._entries.append(entry)
            self._ready.notify()

    def close(self) -> None:
        """Nothing more will be put: wake a waiting `drain` at once."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def drain(self, wait: float) -> list[Entry]:
        """Everything in the box, oldest first; waits up to `wait` seconds for a first entry
        (not at all once closed)."""
        with self._ready:
            if not self._entries and not self._closed:
                self._ready.wait(wait)
            entries = list(self._entries)
            self._entries.clear()
            return entries

    def _drop_oldest_batch(self) -> bool:
        for index, entry in enumerate(self._entries):
            if entry.coalescible:
                del self._entries[index]
                self.dropped += 1
                return True
        return False

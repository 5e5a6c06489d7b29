"""External runs: runs trained in a client's own process that report to this server.

A client registers a run (`register`: a row marked external, owned by the client's
"<host>:<pid>", and a write key only it holds), then reports over `WS /ws/report/{run_id}`:
its messages come numbered and timed by the client and are stored as they are (`ingest`);
its `status` messages move the run's row, as the manager's would for a run trained here.
The server steers it through `RemoteBackend` (stop, attach, hyperparameters, pause).

A heartbeat decides when a client is gone: a run that has not been heard from for
`heartbeat_timeout` seconds (no frame, connected or not) becomes `interrupted`, never a
zombie `running`. A server restart does not interrupt external runs (their clients train
on); the timeout counts again from the start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any

from app.db import RunStatus, Store
from app.db.models import RunRow
from app.live.hub import EventHub
from app.live.messages import status_message, stop_reason_dict, summary
from app.runs.backends.remote import RemoteBackend

__all__ = ["EXTERNAL_RECIPE", "ExternalRuns", "ReportRefused"]

log = logging.getLogger(__name__)

EXTERNAL_RECIPE = "external"  # what an external run's `recipe` says: it has none here
LIVE = (RunStatus.RUNNING, RunStatus.PAUSED)


class ReportRefused(Exception):
    """A client may not report on this run; `code` is the WebSocket close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ExternalRuns:
    """Registers external runs, stores what their clients report, and interrupts the ones
    whose client vanished. `ingest` and `watch` run on the event loop; the rest anywhere."""

    def __init__(
        self, store: Store, hub: EventHub, remote: RemoteBackend, heartbeat_timeout: float
    ) -> None:
        self.store, self.hub, self.remote = store, hub, remote
        self.heartbeat_timeout = heartbeat_timeout
        self._last_seq: dict[str, int] = {}  # the last seq accepted, per live external run
        self._last_seen: dict[str, float] = {}  # monotonic time of the client's last frame
        self._last_epoch: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        """Take over the external runs still live in the database (a restarted server): their
        clients have `heartbeat_timeout` seconds from now to report again."""
        for run_id in self.store.unfinished_external():
            self._open(run_id, self.store.last_seq(run_id))

    def register(
        self, *, name: str | None, params: dict[str, Any], host: str, pid: int
    ) -> tuple[RunRow, str]:
        """A new running external run trained by `host`'s process `pid`, and its write key."""
        run_id, key = secrets.token_hex(6), secrets.token_urlsafe(32)
        self.store.create_run(
            run_id=run_id,
            name=name or f"{EXTERNAL_RECIPE}-{run_id[:6]}",
            recipe=EXTERNAL_RECIPE,
            params=params,
            owner=f"{host}:{pid}",
            external=True,
            write_key_hash=_digest(key),
        )
        self.store.transition(run_id, from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
        self._open(run_id, 0)
        row = self.store.get_run(run_id)
        assert row is not None
        return row, key

    def authenticate(self, run_id: str, key: str) -> int:
        """Check that `key` is `run_id`'s write key and that it may still be reported on; the
        last seq stored for it (the client resends from the one after)."""
        row = self.store.get_run(run_id)
        expected = row.write_key_hash if row is not None and row.external else None
        if expected is None or not secrets.compare_digest(_digest(key), expected):
            raise ReportRefused(4403, "not this run's write key")
        if row is None or run_id not in self._last_seq:
            state = row.status if row is not None else "gone"
            raise ReportRefused(4409, f"run {run_id} is {state}: it takes no more reports")
        self.seen(run_id)
        return self._last_seq[run_id]

    def seen(self, run_id: str) -> None:
        """The client said something: its heartbeat starts again."""
        self._last_seen[run_id] = time.monotonic()

    def last_seq(self, run_id: str) -> int | None:
        """The last seq accepted for a live external run; None once it takes no reports."""
        return self._last_seq.get(run_id)

    async def ingest(self, run_id: str, messages: Sequence[dict[str, Any]]) -> bool:
        """Store messages that go on from the last seq (checked by the caller) and apply their
        status changes; returns once they are saved. True when the run has finished."""
        self.seen(run_id)
        if not messages or run_id not in self._last_seq:
            return run_id not in self._last_seq
        self.hub.accept_numbered(run_id, messages)
        self._last_seq[run_id] = messages[-1]["seq"]
        for message in messages:
            if message["type"] == "epoch":
                self._last_epoch[run_id] = message
        await self.hub.saved_through(run_id, messages[-1]["seq"])
        finished = False
        for message in messages:
            if message["type"] == "status":
                finished = await asyncio.to_thread(self._apply_status, run_id, message)
        return finished

    async def watch(self, interval: float | None = None) -> None:
        """Forever: interrupt the runs whose client has been silent too long."""
        interval = interval or min(1.0, self.heartbeat_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            deadline = time.monotonic() - self.heartbeat_timeout
            for run_id, seen in list(self._last_seen.items()):
                if seen < deadline:
                    await asyncio.to_thread(self.interrupt, run_id)

    def interrupt(self, run_id: str) -> None:
        """The client is gone: the run becomes interrupted, and the server says so."""
        reason = stop_reason_dict(
            "heartbeat",
            f"its client stopped reporting (nothing for {self.heartbeat_timeout:g} s)",
        )
        self._close(run_id)  # the hub numbers this run's messages again from here
        if self.store.transition(run_id, from_=LIVE, to=RunStatus.INTERRUPTED, stop_reason=reason):
            log.warning("external run %s interrupted: %s", run_id, reason["message"])
            self.hub.publish(run_id, status_message(RunStatus.INTERRUPTED.value, reason))

    # --- helpers ----------------------------------------------------------------------------

    def _open(self, run_id: str, last_seq: int) -> None:
        self._last_seq[run_id] = last_seq
        self.seen(run_id)
        self.hub.open_run(run_id, last_seq)
        self.remote.open(run_id)
        self.hub.relay(run_id, self.remote.forward(run_id))

    def _close(self, run_id: str) -> None:
        self.remote.close(run_id)
        self.hub.relay(run_id, None)
        self._last_seq.pop(run_id, None)
        self._last_seen.pop(run_id, None)
        self._last_epoch.pop(run_id, None)

    def _apply_status(self, run_id: str, message: dict[str, Any]) -> bool:
        """Move the row as a `status` message says; True if the run finished."""
        status = RunStatus(message["status"])
        if status is RunStatus.RUNNING:
            self.store.transition(run_id, from_=[RunStatus.PAUSED], to=status)
            return False
        if status is RunStatus.PAUSED:
            self.store.transition(run_id, from_=[RunStatus.RUNNING], to=status)
            return False
        # The last epoch goes in with the final status, as `RunManager.end` does.
        epoch = self._last_epoch.get(run_id)
        fields: dict[str, Any] = {"latest": summary(epoch)} if epoch is not None else {}
        self._close(run_id)
        self.store.transition(
            run_id,
            from_=LIVE,
            to=status,
            stop_reason=message.get("stop_reason"),
            error=message.get("error"),
            **fields,
        )
        return True

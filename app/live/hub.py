"""EventHub: the one place a run's messages are numbered, saved and fanned out to clients.

Training threads call `publish`, which stamps the message, encodes its JSON once (any NaN or
infinity a builder missed becomes null: JSON has none) and hands it to the event loop
(`loop.call_soon_threadsafe`). On the loop a writer task saves messages in order, off the
loop, through the `save` function given, and only then fans them out: a client never sees
a message the database does not hold, so a seq that went out is never numbered again after
a crash (kill -9 at any instant). A message the database refuses is dropped alone; the
others of its batch are saved. Every client has a bounded queue: batch messages are
coalesced for a client that falls behind, and one that cannot keep up with the other
messages is told to resume (`SubscriberLagging`).

A run trained outside the server (`app.runs.external`) is numbered by its own client: its
messages come in already numbered (`accept_numbered`, same save-then-fan-out path), and what
the service publishes on it meanwhile is handed to a `relay` for the client to number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from app.live.messages import plain, summary

__all__ = [
    "ALL_RUNS_TYPES",
    "EventHub",
    "Stamped",
    "Subscriber",
    "SubscriberLagging",
    "to_json",
]

log = logging.getLogger(__name__)

Message = dict[str, Any]


class Stamped(dict[str, Any]):
    """A message with its envelope (run_id, seq, time) and, once dispatched, its JSON text
    (`json`), encoded once for every client."""

    __slots__ = ("json",)
    json: str


def to_json(message: Message) -> str:
    """The message's JSON text (encoded once per message, however many clients receive it)."""
    if isinstance(message, Stamped):
        return message.json
    return json.dumps(message, separators=(",", ":"))


# What `WS /ws/runs` (every run at once) carries: enough for a list page, no batch traffic.
ALL_RUNS_TYPES = frozenset({"status", "epoch"})
SAVE_ATTEMPTS = 3
REPLAY_PAGE = 500  # saved messages read at once for a client that joins or resumes


def _encoded(message: Message) -> Stamped:
    """`message` as a Stamped with its JSON text set (encoded once, for every client).

    Strict JSON: a NaN, an infinity or an object json cannot encode makes a cleaned copy
    (`messages.plain`), so the wire, the database and REST all carry null instead.
    """
    stamped = message if isinstance(message, Stamped) else Stamped(message)
    try:
        stamped.json = json.dumps(stamped, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        stamped = Stamped(plain(dict(stamped)))
        stamped.json = json.dumps(stamped, separators=(",", ":"), allow_nan=False)
    return stamped


class SubscriberLagging(Exception):
    """The client's queue overflowed with messages that cannot be dropped; it must resume."""


class Subscriber:
    """One client's bounded queue. Loop thread only.

    A batch message replaces the same run's batch message still waiting in the queue (a slow
    client sees fewer, never stale, batches); other messages are never dropped: once more than
    `max_pending` wait, the subscriber is marked lagging and `get` raises.
    """

    def __init__(self, run_id: str | None, max_pending: int) -> None:
        self.run_id = run_id
        self.max_pending = max_pending
        self.lagging = False
        self._queue: deque[Message] = deque()
        self._waiting_batch: dict[str, Message] = {}
        self._pending = 0  # messages in the queue that are not batch messages
        self._ready = asyncio.Event()

    def put(self, message: Message) -> None:
        """Queue a message for this client (never blocks, never raises)."""
        if self.lagging:
            return
        if message["type"] == "batch":
            stale = self._waiting_batch.get(message["run_id"])
            if stale is not None:
                self._queue.remove(stale)
            self._waiting_batch[message["run_id"]] = message
        elif self._pending >= self.max_pending:
            self.lagging = True
            self._ready.set()
            return
        else:
            self._pending += 1
        self._queue.append(message)
        self._ready.set()

    async def get(self) -> Message:
        """The next message; raises SubscriberLagging once the client has fallen too far behind."""
        while not self._queue or self.lagging:
            if self.lagging:
                raise SubscriberLagging
            self._ready.clear()
            await self._ready.wait()
        message = self._queue.popleft()
        if message["type"] == "batch":
            del self._waiting_batch[message["run_id"]]
        else:
            self._pending -= 1
        return message


class EventHub:
    """Numbers each run's messages (seq from 1, no gaps), fans them out, and saves them."""

    def __init__(
        self,
        save: Callable[[Sequence[Message]], None],
        *,
        client_queue_size: int = 1000,
        send_timeout: float = 10.0,
    ) -> None:
        self._save = save
        self.client_queue_size = client_queue_size
        # A client whose socket takes this long to accept one message is not reading: it is
        # told to resume (4001) rather than held open until keep-alive drops it.
        self.send_timeout = send_timeout
        self._lock = threading.Lock()
        self._next_seq: dict[str, int] = {}
        self._relays: dict[str, Callable[[Message], None]] = {}  # runs their client numbers
        self._done_seq: dict[str, int] = {}  # highest seq saved (or dropped), per run
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_subscribers: dict[str, set[Subscriber]] = {}
        self._all_subscribers: set[Subscriber] = set()
        self._unsaved: dict[str, deque[Stamped]] = {}  # accepted, not yet written
        self._to_save: list[Stamped] = []
        self._save_wanted = asyncio.Event()
        self._saved = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._observers: list[Callable[[Stamped], None]] = []

    # --- any thread -------------------------------------------------------------------------

    def open_run(self, run_id: str, last_seq: int = 0) -> None:
        """Number a run's next message after `last_seq` (0 for a new run: the store's last one
        for an old run), or after the last one this hub numbered if that is later."""
        with self._lock:
            self._next_seq[run_id] = max(self._next_seq.get(run_id, 1), last_seq + 1)

    def publish(self, run_id: str, message: Message) -> Stamped:
        """Stamp `message` with run_id, seq and time and hand it to the loop; returns it stamped
        (cleaned of non-finite numbers).

        Thread-safe and non-blocking. Numbering and scheduling happen under one lock, so the
        loop receives each run's messages in seq order whichever threads publish them.
        """
        with self._lock:
            if self._loop is None:
                raise RuntimeError("EventHub.start() has not run")
            relay = self._relays.get(run_id)
            if relay is not None:  # its client numbers it, with the run's own messages
                relay(message)
                return Stamped(message, run_id=run_id)
            seq = self._next_seq[run_id]
            self._next_seq[run_id] = seq + 1
            stamped = _encoded(Stamped(message, run_id=run_id, seq=seq, time=time.time()))
            self._loop.call_soon_threadsafe(self._accept, stamped)
            for observe in self._observers:
                observe(stamped)
        return stamped

    def observe(self, observer: Callable[[Stamped], None]) -> None:
        """Call `observer` with every message as it is numbered, in seq order, on the thread
        that publishes it and under the hub's lock: it must only hand the message on (the
        sweep driver queues it), never block or publish."""
        with self._lock:
            self._observers.append(observer)

    def relay(self, run_id: str, forward: Callable[[Message], None] | None) -> None:
        """Hand what is published on `run_id` to `forward` instead of numbering it (a run its
        client numbers); None numbers them here again, after the last seq accepted."""
        with self._lock:
            if forward is None:
                self._relays.pop(run_id, None)
            else:
                self._relays[run_id] = forward

    # --- loop thread ------------------------------------------------------------------------

    def accept_numbered(self, run_id: str, messages: Sequence[Message]) -> None:
        """Take messages numbered by the run's client (seq and time kept), checked by the
        caller to follow on from the last seq accepted: saved, then fanned out, like
        `publish`'s; `saved_through` says when they are in the database."""
        with self._lock:
            for message in messages:
                stamped = _encoded(Stamped(message, run_id=run_id))
                self._next_seq[run_id] = max(self._next_seq.get(run_id, 1), stamped["seq"] + 1)
                self._accept(stamped)

    async def saved_through(self, run_id: str, seq: int) -> None:
        """Wait until `run_id`'s messages up to `seq` are saved (or dropped, as `_write`)."""
        while self._done_seq.get(run_id, 0) < seq:
            self._saved.clear()
            await self._saved.wait()

    def start(self) -> None:
        """Bind to the running loop and start the writer task."""
        self._loop = asyncio.get_running_loop()
        self._writer = self._loop.create_task(self._write_forever(), name="event-writer")

    async def close(self) -> None:
        """Save everything published so far, then stop the writer."""
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def flush(self) -> None:
        """Wait until every message already handed to the loop is saved."""
        await asyncio.sleep(0)  # let call_soon_threadsafe callbacks already scheduled run
        while self._unsaved:
            self._saved.clear()
            await self._saved.wait()

    def subscribe(self, run_id: str | None, after_seq: int = 0) -> Subscriber:
        """A queue of `run_id`'s messages as they are saved (None: every run's status and epoch
        messages). A message saved before this call is in the store; one saved after it
        reaches the queue: "the store, then this queue" misses nothing."""
        subscriber = Subscriber(run_id, self.client_queue_size)
        if run_id is None:
            self._all_subscribers.add(subscriber)
        else:
            self._run_subscribers.setdefault(run_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a client."""
        if subscriber.run_id is None:
            self._all_subscribers.discard(subscriber)
            return
        subscribers = self._run_subscribers.get(subscriber.run_id, set())
        subscribers.discard(subscriber)
        if not subscribers:
            self._run_subscribers.pop(subscriber.run_id, None)

    async def stream(
        self,
        run_id: str,
        after_seq: int,
        load_saved: Callable[[str, int, int], list[Message]],
    ) -> AsyncGenerator[Message, None]:
        """Every message of a run with seq > after_seq: saved ones, then live; no gap, no repeat.

        Subscribes before reading the store, so a message is in the store, queued, or both.
        `load_saved(run_id, after_seq, limit)` reads the history a page at a time: fifty
        clients joining a long run then hold fifty pages, not fifty whole histories.
        """
        subscriber = self.subscribe(run_id, after_seq)
        try:
            last = after_seq
            while True:
                page = await asyncio.to_thread(load_saved, run_id, last, REPLAY_PAGE)
                for message in page:
                    if message["seq"] > last:
                        yield message
                        last = message["seq"]
                if len(page) < REPLAY_PAGE:
                    break
            while True:
                message = await subscriber.get()
                if message["seq"] > last:
                    yield message
                    last = message["seq"]
        finally:
            self.unsubscribe(subscriber)

    async def stream_all(self) -> AsyncGenerator[Message, None]:
        """Every run's status and epoch messages, live."""
        subscriber = self.subscribe(None)
        try:
            while True:
                yield await subscriber.get()
        finally:
            self.unsubscribe(subscriber)

    def _accept(self, message: Stamped) -> None:
        self._unsaved.setdefault(message["run_id"], deque()).append(message)
        self._to_save.append(message)
        self._save_wanted.set()

    def _fan_out(self, message: Stamped) -> None:
        for subscriber in self._run_subscribers.get(message["run_id"], ()):
            subscriber.put(message)
        if message["type"] in ALL_RUNS_TYPES and self._all_subscribers:
            listed = message if "batches" not in message else _encoded(summary(message))
            for subscriber in self._all_subscribers:
                subscriber.put(listed)

    async def _write_forever(self) -> None:
        while True:
            await self._save_wanted.wait()
            self._save_wanted.clear()
            batch, self._to_save = self._to_save, []
            saved = await self._write(batch)
            for message in batch:
                unsaved = self._unsaved[message["run_id"]]
                unsaved.popleft()
                self._done_seq[message["run_id"]] = message["seq"]
                if not unsaved:
                    del self._unsaved[message["run_id"]]
            for message in saved:  # in seq order, and only what the database holds
                self._fan_out(message)
            self._saved.set()

    async def _write(self, batch: list[Stamped]) -> list[Stamped]:
        """Save `batch`; the messages saved, in order. The whole batch goes in one transaction;
        if that fails, each message alone, so a message the database refuses (whatever the
        reason) costs only itself. Failures are retried with backoff, then dropped."""
        try:
            await asyncio.to_thread(self._save, batch)
            return batch
        except Exception:
            log.warning("saving %d messages failed; saving them one by one", len(batch))
        saved: set[int] = set()
        todo = list(range(len(batch)))
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            failed = []
            for index in todo:
                try:
                    await asyncio.to_thread(self._save, [batch[index]])
                    saved.add(index)
                except Exception:
                    if attempt == SAVE_ATTEMPTS:
                        log.exception("dropped message %s", _label(batch[index]))
                    failed.append(index)
            if not failed:
                break
            todo = failed
            await asyncio.sleep(0.5 * attempt)
        return [batch[i] for i in sorted(saved)]


def _label(message: Message) -> str:
    return f"{message['run_id']}#{message['seq']} ({message['type']})"

"""The actor's mailbox: bounded, in order, and it lets go of batch samples first."""

from __future__ import annotations

import threading
import time

from app.runs.backends.mailbox import Held, Mailbox, Published


def _batch(i: int) -> Published:
    return Published({"type": "batch", "iter": i})


def _epoch(i: int) -> Published:
    return Published({"type": "epoch", "epoch": i})


def test_drain_returns_everything_in_order_once() -> None:
    box = Mailbox()
    entries = [_batch(0), Held(True, 0, 1), _epoch(0), Held(False, 0, 1)]
    for entry in entries:
        box.put(entry)
    assert box.drain(0) == entries
    assert box.drain(0) == []


def test_a_full_box_drops_the_oldest_batch_sample_and_keeps_every_other_message() -> None:
    box = Mailbox(capacity=3)
    for entry in [_batch(0), _epoch(0), _batch(1), _epoch(1), _batch(2)]:
        box.put(entry)
    assert box.drain(0) == [_epoch(0), _epoch(1), _batch(2)]
    assert box.dropped == 2


def test_a_box_full_of_messages_that_must_stay_grows_and_drops_new_samples() -> None:
    box = Mailbox(capacity=2)
    for entry in [_epoch(0), _epoch(1), _batch(5), _epoch(2)]:
        box.put(entry)
    assert box.drain(0) == [_epoch(0), _epoch(1), _epoch(2)]
    assert box.dropped == 1


def test_drain_waits_for_the_first_entry_and_close_wakes_it() -> None:
    box = Mailbox()
    threading.Timer(0.05, box.put, args=[_batch(0)]).start()
    started = time.monotonic()
    assert box.drain(5.0) == [_batch(0)]
    assert time.monotonic() - started < 2.0  # woken by the put, not the timeout

    threading.Timer(0.05, box.close).start()
    started = time.monotonic()
    assert box.drain(5.0) == []
    assert time.monotonic() - started < 2.0
    assert box.drain(5.0) == []  # closed: no wait at all

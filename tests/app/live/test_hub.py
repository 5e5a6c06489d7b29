"""EventHub: numbering from any thread, fan-out, coalescing, lagging clients, replay, saving."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from app.live.hub import REPLAY_PAGE, EventHub, Subscriber, SubscriberLagging

Message = dict[str, Any]


class ListStore:
    """A real, in-memory event log with the store's two methods the hub relies on."""

    def __init__(self) -> None:
        self.saved: list[Message] = []

    def save(self, messages: list[Message]) -> None:
        self.saved.extend(messages)

    def events_after(self, run_id: str, after_seq: int, limit: int | None = None) -> list[Message]:
        found = [m for m in self.saved if m["run_id"] == run_id and m["seq"] > after_seq]
        return found[:limit]


async def _started_hub(store: ListStore, **kwargs: Any) -> EventHub:
    hub = EventHub(store.save, **kwargs)
    hub.start()
    return hub


async def _drain(subscriber: Subscriber) -> list[Message]:
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(subscriber.get(), 0.05))
        except asyncio.TimeoutError:
            return messages


@pytest.mark.timeout(30)
def test_publishers_on_many_threads_get_gapless_seqs_in_order() -> None:
    async def main() -> tuple[list[Message], ListStore]:
        store = ListStore()
        hub = await _started_hub(store)
        hub.open_run("r", last_seq=10)
        subscriber = hub.subscribe("r")

        def publish(worker: int) -> None:
            for index in range(200):
                hub.publish("r", {"type": "epoch", "worker": worker, "index": index})

        threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        received = await _drain(subscriber)
        await hub.close()
        return received, store

    received, store = asyncio.run(main())
    assert [m["seq"] for m in received] == list(range(11, 811))
    assert [m["seq"] for m in store.saved] == list(range(11, 811))
    for worker in range(4):  # each publisher's own order is kept
        assert [m["index"] for m in received if m["worker"] == worker] == list(range(200))
    assert all(m["run_id"] == "r" and m["time"] > 0 for m in received)


def test_a_slow_client_gets_the_newest_batch_and_every_other_message() -> None:
    async def main() -> list[Message]:
        hub = await _started_hub(ListStore())
        hub.open_run("r")
        subscriber = hub.subscribe("r")
        for iteration in range(50):
            hub.publish("r", {"type": "batch", "iter": iteration})
            if iteration % 10 == 9:
                hub.publish("r", {"type": "epoch", "epoch": iteration // 10})
        await asyncio.sleep(0.01)  # the client reads nothing until everything is published
        received = await _drain(subscriber)
        await hub.close()
        return received

    received = asyncio.run(main())
    assert [m["epoch"] for m in received if m["type"] == "epoch"] == [0, 1, 2, 3, 4]
    assert [m["iter"] for m in received if m["type"] == "batch"] == [49]
    seqs = [m["seq"] for m in received]
    assert seqs == sorted(seqs)


def test_a_client_that_cannot_keep_up_with_epochs_is_told_to_resume() -> None:
    async def main() -> tuple[list[Message], bool]:
        hub = await _started_hub(ListStore(), client_queue_size=5)
        hub.open_run("r")
        slow, fast = hub.subscribe("r"), hub.subscribe("r")
        fast_received = []
        for epoch in range(8):
            hub.publish("r", {"type": "epoch", "epoch": epoch})
            await asyncio.sleep(0.001)
            fast_received.append(await fast.get())
        lagging = False
        try:
            await slow.get()
        except SubscriberLagging:
            lagging = True
        await hub.close()
        return fast_received, lagging

    fast_received, lagging = asyncio.run(main())
    assert lagging
    assert [m["epoch"] for m in fast_received] == list(range(8))


def test_the_all_runs_stream_carries_status_and_epoch_messages_only() -> None:
    async def main() -> list[Message]:
        hub = await _started_hub(ListStore())
        for run_id in ("a", "b"):
            hub.open_run(run_id)
        subscriber = hub.subscribe(None)
        hub.publish("a", {"type": "status", "status": "running"})
        hub.publish("a", {"type": "batch", "loss": 1.0})
        hub.publish("b", {"type": "epoch", "epoch": 0})
        hub.publish("b", {"type": "callback", "action": "attached"})
        received = await _drain(subscriber)
        await hub.close()
        return received

    received = asyncio.run(main())
    assert [(m["run_id"], m["type"]) for m in received] == [("a", "status"), ("b", "epoch")]


@pytest.mark.timeout(30)
def test_stream_replays_saved_then_live_with_no_gap_and_no_repeat() -> None:
    """Messages published while the replay reads the store arrive once, in order."""

    async def main() -> list[int]:
        store = ListStore()
        hub = await _started_hub(store)
        hub.open_run("r")
        for index in range(30):
            hub.publish("r", {"type": "epoch", "epoch": index})
        await hub.flush()
        stop = threading.Event()

        def keep_publishing() -> None:
            for index in range(30, 300):
                hub.publish("r", {"type": "epoch", "epoch": index})
            stop.set()

        publisher = threading.Thread(target=keep_publishing)
        publisher.start()
        seqs: list[int] = []
        async for message in hub.stream("r", 12, store.events_after):
            seqs.append(message["seq"])
            if message["seq"] == 300:
                break
        publisher.join()
        await hub.close()
        return seqs

    assert asyncio.run(main()) == list(range(13, 301))


def test_flush_waits_until_everything_published_is_saved() -> None:
    async def main() -> ListStore:
        store = ListStore()
        hub = await _started_hub(store)
        hub.open_run("r")
        for index in range(100):
            hub.publish("r", {"type": "batch", "iter": index})
        await hub.flush()
        assert len(store.saved) == 100
        await hub.close()
        return store

    asyncio.run(main())


def test_publishing_before_the_hub_started_is_an_error() -> None:
    hub = EventHub(ListStore().save)
    hub.open_run("r")
    with pytest.raises(RuntimeError, match="start"):
        hub.publish("r", {"type": "status"})


@pytest.mark.timeout(30)
def test_clients_are_sent_only_what_the_store_already_has() -> None:
    """kill -9 at any instant must not contradict a client: a seq it saw is a saved seq."""

    async def main() -> tuple[list[int], list[int]]:
        release = threading.Event()
        store = ListStore()

        def slow_save(messages: list[Message]) -> None:
            release.wait(10)  # the database is slow
            store.save(messages)

        hub = EventHub(slow_save)
        hub.start()
        hub.open_run("r")
        subscriber = hub.subscribe("r")
        for index in range(3):
            hub.publish("r", {"type": "epoch", "index": index})
        await asyncio.sleep(0.2)
        early = [m["seq"] for m in subscriber._queue]  # nothing while nothing is saved
        release.set()
        await hub.flush()
        sent = [(await subscriber.get())["seq"] for _ in range(3)]
        assert [m["seq"] for m in store.saved] == sent
        await hub.close()
        return early, sent

    early, sent = asyncio.run(main())
    assert early == []
    assert sent == [1, 2, 3]


@pytest.mark.timeout(30)
def test_a_message_the_store_refuses_is_dropped_alone() -> None:
    class PickyStore(ListStore):
        def save(self, messages: list[Message]) -> None:
            if any(m.get("poison") for m in messages):
                raise ValueError("the database refuses this one")
            super().save(messages)

    async def main() -> tuple[list[int], list[int]]:
        store = PickyStore()
        hub = EventHub(store.save)
        hub.start()
        hub.open_run("a")
        hub.open_run("b")
        subscriber = hub.subscribe("b")
        hub.publish("a", {"type": "epoch", "poison": True})
        for index in range(4):
            hub.publish("b", {"type": "epoch", "index": index})
        await hub.flush()
        got = [(await subscriber.get())["seq"] for _ in range(4)]
        await hub.close()
        return [m["seq"] for m in store.saved if m["run_id"] == "b"], got

    saved, got = asyncio.run(main())
    assert saved == got == [1, 2, 3, 4]


def test_non_finite_numbers_become_null_on_the_wire_and_in_the_store() -> None:
    async def main() -> tuple[dict, list[Message]]:
        store = ListStore()
        hub = EventHub(store.save)
        hub.start()
        hub.open_run("r")
        stamped = hub.publish("r", {"type": "batch", "loss": float("nan"), "lr": float("inf")})
        await hub.close()
        return stamped, store.saved

    stamped, saved = asyncio.run(main())
    wire = json.loads(stamped.json)  # strict JSON: json.loads would accept NaN, so check text
    assert "NaN" not in stamped.json and "Infinity" not in stamped.json
    assert wire["loss"] is None and wire["lr"] is None
    assert saved[0]["loss"] is None and saved[0]["lr"] is None


def test_a_long_history_is_replayed_page_by_page_without_gap_or_repeat() -> None:
    store = ListStore()
    total = 2 * REPLAY_PAGE + 7  # three pages, the last one short
    pages: list[int] = []

    def paged(run_id: str, after_seq: int, limit: int | None = None) -> list[Message]:
        page = store.events_after(run_id, after_seq, limit)
        pages.append(len(page))
        return page

    async def main() -> list[int]:
        hub = await _started_hub(store)
        hub.open_run("r")
        for _ in range(total):
            hub.publish("r", {"type": "epoch"})
        await hub.flush()
        seen = []
        async for message in hub.stream("r", 0, paged):
            seen.append(message["seq"])
            if len(seen) == total:
                break
        await hub.close()
        return seen

    assert asyncio.run(main()) == list(range(1, total + 1))
    assert pages == [REPLAY_PAGE, REPLAY_PAGE, 7]  # never the whole history at once

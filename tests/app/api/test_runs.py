"""The service end to end: a real uvicorn server, real WebSocket clients, real training."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from app.db import RunStatus, Store, init_db, make_engine
from tests.fixtures.server import (
    LiveServer,
    finished,
    receive_until,
    wait_for_epoch,
    wait_for_status,
)

pytestmark = pytest.mark.timeout(120)

# Long enough to be stopped mid-run (100 epochs of 180 batches), yet real training.
LONG = {"recipe": "mlp", "params": {"epochs": 100, "bs": 8, "dataset": "digits"}}
SHORT = {"recipe": "mlp", "params": {"epochs": 2, "dataset": "digits", "bs": 64, "lr": 0.5}}


def _create(server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    response = server.client().post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _is_epoch(message: dict[str, Any]) -> bool:
    return message["type"] == "epoch"


def _seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [message["seq"] for message in messages]


def test_a_run_streams_its_epochs_in_order_and_completes(server: LiveServer) -> None:
    run = _create(server, SHORT)
    assert run["status"] == "queued" and run["params"]["epochs"] == 2

    async def watch() -> list[dict[str, Any]]:
        async with websockets.connect(server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            return await receive_until(ws, finished)

    messages = asyncio.run(watch())
    assert _seqs(messages) == list(range(1, len(messages) + 1))
    assert all(m["run_id"] == run["id"] for m in messages)
    statuses = [m["status"] for m in messages if m["type"] == "status"]
    assert statuses == ["queued", "running", "completed"]
    epochs = [m for m in messages if _is_epoch(m)]
    assert [m["epoch"] for m in epochs] == [0, 1]
    for message in epochs:
        for phase in ("train", "valid"):
            assert set(message[phase]) == {"loss", "accuracy"}
            assert 0 <= message[phase]["accuracy"] <= 1 and message[phase]["loss"] > 0
    assert 0 < epochs[0]["elapsed"] < epochs[1]["elapsed"]
    assert epochs[1]["valid"]["accuracy"] > 0.5  # it really trained

    client = server.client()
    done = client.get(f"/api/runs/{run['id']}").json()
    assert done["status"] == "completed" and done["stop_reason"] is None
    assert done["started_at"] <= done["finished_at"]
    # Lists carry the last epoch without its batch curve; the run's messages have the curve.
    assert len(epochs[-1]["batches"]["loss"]) == 23
    assert done["latest"] == {k: v for k, v in epochs[-1].items() if k != "batches"}
    listed = client.get("/api/runs").json()["items"]
    assert [r["latest"] for r in listed if r["id"] == run["id"]] == [done["latest"]]
    assert client.get(f"/api/runs/{run['id']}/events").json() == messages
    metrics = client.get(f"/api/runs/{run['id']}/metrics").json()
    assert [e["valid"] for e in metrics["epochs"]] == [e["valid"] for e in epochs]
    assert metrics["batches"] and all(b["loss"] > 0 for b in metrics["batches"])


def test_stop_ends_a_running_run_at_the_next_batch(server: LiveServer) -> None:
    run = _create(server, LONG)
    client = server.client()

    async def stop_after_first_epoch() -> list[dict[str, Any]]:
        async with websockets.connect(server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            await receive_until(ws, _is_epoch)
            response = client.post(f"/api/runs/{run['id']}/stop")
            assert response.status_code == 202, response.text
            return await receive_until(ws, finished)

    tail = asyncio.run(stop_after_first_epoch())
    status = tail[-1]
    assert status["status"] == "stopped"
    reason = status["stop_reason"]
    assert reason["source"] == "user" and reason["message"]
    assert reason["epoch"] >= 1 and reason["iter"] >= 180  # after the first epoch: 180 batches
    stopped = client.get(f"/api/runs/{run['id']}").json()
    assert stopped["status"] == "stopped" and stopped["stop_reason"] == reason
    again = client.post(f"/api/runs/{run['id']}/stop")
    assert again.status_code == 409 and "stopped" in again.json()["detail"]


def test_reconnecting_with_after_seq_gets_exactly_what_was_missed(server: LiveServer) -> None:
    run = _create(server, LONG)
    client = server.client()
    url = server.ws_url(f"/ws/runs/{run['id']}")

    async def reconnect_mid_run() -> tuple[int, list[dict[str, Any]]]:
        async with websockets.connect(url) as ws:
            first = await receive_until(ws, _is_epoch)
        last_seen = first[-1]["seq"]
        wait_for_epoch(client, run["id"], first[-1]["epoch"] + 2)  # missed while away
        async with websockets.connect(f"{url}?after_seq={last_seen}") as ws:
            caught_up = await receive_until(ws, _is_epoch)
            client.post(f"/api/runs/{run['id']}/stop").raise_for_status()
            rest = await receive_until(ws, finished)
        return last_seen, caught_up + rest

    last_seen, replayed = asyncio.run(reconnect_mid_run())
    assert _seqs(replayed) == list(range(last_seen + 1, last_seen + 1 + len(replayed)))
    epochs = [m["epoch"] for m in replayed if _is_epoch(m)]
    assert len(epochs) >= 2 and epochs == list(range(epochs[0], epochs[0] + len(epochs)))
    saved = client.get(f"/api/runs/{run['id']}/events", params={"after_seq": last_seen}).json()
    assert replayed == saved


def test_early_stopping_attached_to_a_running_run_stops_it(server: LiveServer) -> None:
    run = _create(server, LONG)
    client = server.client()
    # No change of valid_loss can beat a min_delta this large: it stops one epoch after joining.
    early = {"name": "early_stopping", "params": {"patience": 1, "min_delta": 1e9}}

    async def attach_and_watch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with websockets.connect(server.ws_url(f"/ws/runs/{run['id']}")) as ws:
            await receive_until(ws, _is_epoch)
            response = client.post(f"/api/runs/{run['id']}/callbacks", json=early)
            assert response.status_code == 201, response.text
            return response.json(), await receive_until(ws, finished)

    attached, messages = asyncio.run(attach_and_watch())
    assert attached["name"] == "early_stopping" and attached["params"]["min_delta"] == 1e9
    kinds = [m["type"] for m in messages]
    assert kinds.index("callback") < kinds.index("early_stop") < kinds.index("status")
    notice = next(m for m in messages if m["type"] == "callback")
    assert (notice["action"], notice["id"]) == ("attached", attached["id"])
    early_stop = next(m for m in messages if m["type"] == "early_stop")
    assert early_stop["monitor"] == "valid_loss" and early_stop["value"] > 0
    assert "did not improve" in early_stop["reason"] and early_stop["iter"] > 0
    status = messages[-1]
    assert status["status"] == "early_stopped"
    assert status["stop_reason"]["source"] == "early_stopping"
    final = client.get(f"/api/runs/{run['id']}").json()
    assert [cb["id"] for cb in final["callbacks"]] == [attached["id"]]


def test_a_detached_callback_no_longer_acts(server: LiveServer) -> None:
    run = _create(server, LONG)
    client = server.client()
    stop_soon = {"name": "stop_after_iters", "params": {"n": 400}}  # would stop in epoch 2

    cb = client.post(f"/api/runs/{run['id']}/callbacks", json=stop_soon).json()
    assert client.delete(f"/api/runs/{run['id']}/callbacks/{cb['id']}").status_code == 204
    assert client.delete(f"/api/runs/{run['id']}/callbacks/{cb['id']}").status_code == 404
    assert client.get(f"/api/runs/{run['id']}").json()["callbacks"] == []
    wait_for_epoch(client, run["id"], 3)  # well past 400 batches
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "running"
    client.post(f"/api/runs/{run['id']}/stop").raise_for_status()
    assert wait_for_status(client, run["id"], "stopped")["stop_reason"]["source"] == "user"
    events = client.get(f"/api/runs/{run['id']}/events").json()
    actions = [(m["action"], m["id"]) for m in events if m["type"] == "callback"]
    assert actions == [("attached", cb["id"]), ("detached", cb["id"])]


def test_with_one_worker_runs_wait_in_order_and_a_queued_one_can_be_cancelled(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(workers=1)
    client = server.client()
    first = _create(server, LONG)
    wait_for_status(client, first["id"], "running")
    second, third, cancelled = (_create(server, SHORT) for _ in range(3))
    assert client.get("/api/health").json()["queued"] == 3
    for run in (second, third, cancelled):
        assert client.get(f"/api/runs/{run['id']}").json()["status"] == "queued"
    response = client.post(f"/api/runs/{cancelled['id']}/stop")
    assert response.status_code == 202 and response.json()["status"] == "stopped"
    client.post(f"/api/runs/{first['id']}/stop").raise_for_status()
    first_done = wait_for_status(client, first["id"], "stopped")
    second_done = wait_for_status(client, second["id"], "completed")
    third_done = wait_for_status(client, third["id"], "completed")
    assert first_done["finished_at"] <= second_done["started_at"]
    assert second_done["finished_at"] <= third_done["started_at"]
    never = client.get(f"/api/runs/{cancelled['id']}").json()
    assert never["started_at"] is None and never["stop_reason"]["source"] == "user"


def test_a_failing_recipe_fails_its_run_and_the_server_carries_on(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(recipe_modules=["tests.app.runs.failing_recipes"])
    client = server.client()
    broken = _create(server, {"recipe": "broken_model", "params": {"epochs": 1}})
    healthy = _create(server, SHORT)
    failed = wait_for_status(client, broken["id"], "failed")
    assert "IndexError" in failed["error"] and "out of bounds" in failed["error"]
    assert wait_for_status(client, healthy["id"], "completed")["error"] is None
    events = client.get(f"/api/runs/{broken['id']}/events").json()
    assert events[-1]["status"] == "failed" and events[-1]["error"] == failed["error"]
    assert client.get("/api/health").json()["status"] == "ok"


def test_a_system_exit_in_a_run_fails_it_and_its_worker_carries_on(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(recipe_modules=["tests.app.runs.failing_recipes"], workers=1)
    client = server.client()
    exiting = _create(server, {"recipe": "exiting_model", "params": {"epochs": 1}})
    after = _create(server, SHORT)  # the same, only worker must train this one next
    failed = wait_for_status(client, exiting["id"], "failed")
    assert failed["error"].startswith("SystemExit: a library called sys.exit()")
    assert wait_for_status(client, after["id"], "completed")["error"] is None
    assert client.get("/api/health").json()["running"] == 0


def test_a_restart_keeps_finished_runs_and_interrupts_running_ones(server: LiveServer) -> None:
    client = server.client()
    done = _create(server, SHORT)
    done_before = wait_for_status(client, done["id"], "completed")
    checkpointed = dict(LONG, callbacks=[{"name": "checkpoint", "params": {}}])
    running = _create(server, checkpointed)
    wait_for_epoch(client, running["id"], 1)

    started = time.monotonic()
    server.stop()  # as on SIGTERM: the running run stops at its next batch
    assert time.monotonic() - started < 10
    server.start()
    client = server.client()
    assert client.get(f"/api/runs/{done['id']}").json() == done_before
    interrupted = client.get(f"/api/runs/{running['id']}").json()
    assert interrupted["status"] == "interrupted"
    assert client.get(f"/api/runs/{running['id']}/events").json()[-1]["status"] == "interrupted"
    assert client.post(f"/api/runs/{done['id']}/resume").status_code == 409

    last_seq = client.get(f"/api/runs/{running['id']}/events").json()[-1]["seq"]
    resumed = client.post(f"/api/runs/{running['id']}/resume")
    assert resumed.status_code == 202 and resumed.json()["status"] in ("queued", "running")

    async def watch_resumed() -> list[dict[str, Any]]:
        url = server.ws_url(f"/ws/runs/{running['id']}?after_seq={last_seq}")
        async with websockets.connect(url) as ws:
            messages = await receive_until(ws, _is_epoch)
            client.post(f"/api/runs/{running['id']}/stop").raise_for_status()
            return messages + await receive_until(ws, finished)

    messages = asyncio.run(watch_resumed())
    assert _seqs(messages) == list(range(last_seq + 1, last_seq + 1 + len(messages)))
    first_epoch = next(m for m in messages if _is_epoch(m))
    assert first_epoch["epoch"] >= interrupted["latest"]["epoch"]  # continued, not restarted
    assert messages[-1]["status"] == "stopped"


def test_runs_a_crashed_process_left_running_are_interrupted_at_start(
    database_url: str, server_factory: Callable[..., LiveServer]
) -> None:
    engine = make_engine(database_url)
    init_db(engine)
    store = Store(engine)
    store.create_run(run_id="crashed", name="crashed", recipe="mlp", params={})
    store.transition("crashed", from_=[RunStatus.QUEUED], to=RunStatus.RUNNING)
    store.save_events([{"type": "status", "run_id": "crashed", "seq": 1, "time": 0.0}])
    engine.dispose()

    client = server_factory().client()
    assert client.get("/api/runs/crashed").json()["status"] == "interrupted"
    events = client.get("/api/runs/crashed/events").json()
    assert [(m["seq"], m.get("status")) for m in events] == [(1, None), (2, "interrupted")]
    response = client.post("/api/runs/crashed/resume")
    assert response.status_code == 409 and "no checkpoint" in response.json()["detail"]


def test_deleting_a_finished_run_removes_it(server: LiveServer) -> None:
    client = server.client()
    done = _create(server, SHORT)
    running = _create(server, LONG)
    wait_for_status(client, done["id"], "completed")
    wait_for_status(client, running["id"], "running")
    refused = client.delete(f"/api/runs/{running['id']}")
    assert refused.status_code == 409 and "running" in refused.json()["detail"]
    assert client.delete(f"/api/runs/{done['id']}").status_code == 204
    assert client.get(f"/api/runs/{done['id']}").status_code == 404
    assert [run["id"] for run in client.get("/api/runs").json()["items"]] == [running["id"]]
    client.post(f"/api/runs/{running['id']}/stop").raise_for_status()
    wait_for_status(client, running["id"], "stopped")


def test_the_all_runs_stream_shows_every_runs_status_and_epochs(server: LiveServer) -> None:
    async def watch() -> list[dict[str, Any]]:
        async with websockets.connect(server.ws_url("/ws/runs")) as ws:
            runs = [_create(server, SHORT) for _ in range(2)]
            seen: set[str] = set()

            def both_done(message: dict[str, Any]) -> bool:
                if finished(message):
                    seen.add(message["run_id"])
                return seen == {run["id"] for run in runs}

            return await receive_until(ws, both_done)

    messages = asyncio.run(watch())
    assert {m["type"] for m in messages} == {"status", "epoch"}
    for run_id in {m["run_id"] for m in messages}:
        own = [m for m in messages if m["run_id"] == run_id]
        assert _seqs(own) == sorted(_seqs(own))
        assert [m["epoch"] for m in own if _is_epoch(m)] == [0, 1]
    # the list page gets each epoch's stats, not its batch curve (GET /events has that)
    assert all("batches" not in m and "train" in m for m in messages if _is_epoch(m))


def test_a_client_that_falls_behind_is_closed_with_the_seq_to_resume_from(
    server: LiveServer,
) -> None:
    run = _create(server, LONG)
    client = server.client()
    url = server.ws_url(f"/ws/runs/{run['id']}")
    wait_for_status(client, run["id"], "running")
    assert server.app is not None
    server.app.state.hub.client_queue_size = 0  # any live epoch or status message overflows

    async def fall_behind_then_resume() -> tuple[int, str, list[dict[str, Any]]]:
        async with websockets.connect(url) as ws:
            seen = []
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    seen.append(json.loads(await ws.recv()))
        assert closed.value.rcvd is not None
        code, reason = closed.value.rcvd.code, closed.value.rcvd.reason
        server.app.state.hub.client_queue_size = 1000
        resume_at = int(reason.rpartition("after_seq=")[2])
        assert resume_at == seen[-1]["seq"]
        async with websockets.connect(f"{url}?after_seq={resume_at}") as ws:
            client.post(f"/api/runs/{run['id']}/stop").raise_for_status()
            rest = await receive_until(ws, finished)
        return code, reason, seen + rest

    code, reason, messages = asyncio.run(fall_behind_then_resume())
    assert code == 4001 and "too slow" in reason
    assert _seqs(messages) == list(range(1, len(messages) + 1))

"""The reporting socket refuses what a client must not send, and stores nothing of it.

A raw WebSocket client plays a misbehaving (or malicious) script against a real server:
garbage, a message of the wrong shape, seq out of order, another run's id, a wrong key.
Each is closed with a code and a reason that says why; the run's log is untouched.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.fixtures.processes import ROOT, fitboard_env
from tests.fixtures.server import LiveServer, finished, receive_until, wait_for_status
from trainer.reporting.messages import batch_message, epoch_message, status_message

TIMEOUT = 120


def _register(server: LiveServer, name: str = "raw") -> dict[str, Any]:
    body = {"name": name, "params": {"lr": 0.1}, "host": socket.gethostname(), "pid": os.getpid()}
    reply = server.client().post("/api/external/runs", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _numbered(message: dict[str, Any], seq: int) -> dict[str, Any]:
    return {**message, "seq": seq, "time": time.time()}


def _good(start: int = 1) -> list[dict[str, Any]]:
    """Three valid messages from `start`: what DashboardCallback sends first."""
    curve = {"iter": [1], "loss": [2.3], "lr": [0.1]}
    messages = [
        status_message("running"),
        batch_message(0, 1, 2.3, 0.1),
        epoch_message(0, {"loss": 2.0}, {"loss": 2.1}, 0.5, curve),
    ]
    return [_numbered(m, start + i) for i, m in enumerate(messages)]


async def _session(
    server: LiveServer, run_id: str, key: str, frames: list[Any]
) -> tuple[list[dict[str, Any]], int | None, str]:
    """Say hello with `key`, send `frames` (dicts as JSON, str as they are); the frames the
    server sent back and how it closed (code, reason)."""
    received: list[dict[str, Any]] = []
    async with websockets.connect(server.ws_url(f"/ws/report/{run_id}")) as ws:
        await ws.send(json.dumps({"type": "hello", "key": key}))
        try:
            received.append(json.loads(await ws.recv()))
            for frame in frames:
                await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
                if isinstance(frame, dict) and frame.get("messages"):
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await asyncio.wait_for(ws.recv(), 1.0)
        except (ConnectionClosed, asyncio.TimeoutError):
            pass
        await ws.close()
    return received, ws.close_code, ws.close_reason or ""


def _report(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "report", "messages": messages}


def _events(server: LiveServer, run_id: str) -> list[dict[str, Any]]:
    return server.client().get(f"/api/runs/{run_id}/events").json()  # type: ignore[no-any-return]


def test_a_good_report_is_stored_and_acknowledged(server: LiveServer) -> None:
    reg = _register(server)
    run_id, key = reg["run"]["id"], reg["key"]
    assert reg["report_path"] == f"/ws/report/{run_id}" and reg["run"]["status"] == "running"
    received, _, _ = asyncio.run(_session(server, run_id, key, [_report(_good())]))
    assert received[0] == {"type": "welcome", "run_id": run_id, "last_seq": 0, "heartbeat_s": 30}
    assert received[1] == {"type": "ack", "seq": 3}
    events = _events(server, run_id)
    assert [(m["seq"], m["type"]) for m in events] == [(1, "status"), (2, "batch"), (3, "epoch")]
    assert all(m["run_id"] == run_id for m in events)


def test_resent_messages_are_acknowledged_and_stored_once(server: LiveServer) -> None:
    reg = _register(server)
    run_id, key = reg["run"]["id"], reg["key"]
    first = _good()
    asyncio.run(_session(server, run_id, key, [_report(first[:2])]))
    # A client that lost the ack resends 1..2 along with 3: 1 and 2 are skipped.
    received, _, _ = asyncio.run(_session(server, run_id, key, [_report(first)]))
    assert received[0]["last_seq"] == 2 and received[1] == {"type": "ack", "seq": 3}
    assert [m["seq"] for m in _events(server, run_id)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ("not json at all", "not JSON"),
        ({"type": "report", "messages": "many"}, "messages"),
        (_report([{"type": "epoch", "seq": 1, "time": 1.0}]), "epoch"),  # fields missing
        (_report([{**_good()[1], "loss": "low"}]), "loss"),
        (_report([{**_good()[1], "run_id": "another"}]), "run_id"),  # no writing elsewhere
        (_report([{**_good()[0], "status": "interrupted"}]), "status"),  # the server's to say
        (_report([{**_good()[1], "type": "shell"}]), "type"),
        (_report(_good(start=2)), "seq 2 out of order: expected 1"),  # a gap
        (_report([_good()[0], _good()[0]]), "out of order"),  # a repeat
        (_report([_good()[1], _good()[0]]), "out of order"),  # backwards
    ],
)
def test_a_bad_frame_is_refused_with_its_reason_and_nothing_of_it_stored(
    server: LiveServer, frame: Any, why: str
) -> None:
    reg = _register(server)
    run_id, key = reg["run"]["id"], reg["key"]
    _, code, reason = asyncio.run(_session(server, run_id, key, [frame]))
    assert code == 4400 and why in reason, reason
    assert _events(server, run_id) == []


def test_a_bad_frame_after_good_ones_leaves_those_alone(server: LiveServer) -> None:
    reg = _register(server)
    run_id, key = reg["run"]["id"], reg["key"]
    good, bad = _good(), _report([_numbered(batch_message(0, 2, 2.0, 0.1), 5)])
    _, code, _ = asyncio.run(_session(server, run_id, key, [_report(good), bad]))
    assert code == 4400
    assert [m["seq"] for m in _events(server, run_id)] == [1, 2, 3]


def test_a_client_cannot_report_on_another_clients_run(server: LiveServer) -> None:
    mine, theirs = _register(server, "mine"), _register(server, "theirs")
    received, code, reason = asyncio.run(
        _session(server, theirs["run"]["id"], mine["key"], [_report(_good())])
    )
    assert code == 4403 and "write key" in reason and received == []
    assert _events(server, theirs["run"]["id"]) == []
    # A run the server trains has no write key at all.
    created = server.client().post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}})
    server_run = created.json()["id"]
    _, code, _ = asyncio.run(_session(server, server_run, mine["key"], [_report(_good())]))
    assert code == 4403


def test_a_finished_run_takes_no_more_reports(server: LiveServer) -> None:
    reg = _register(server)
    run_id, key = reg["run"]["id"], reg["key"]
    done = _numbered(status_message("completed"), 4)
    _, code, _ = asyncio.run(_session(server, run_id, key, [_report([*_good(), done])]))
    assert code == 1000
    assert wait_for_status(server.client(), run_id, "completed")["latest"]["epoch"] == 0
    _, code, reason = asyncio.run(_session(server, run_id, key, [_report(_good(start=5))]))
    assert code == 4409 and "completed" in reason
    assert len(_events(server, run_id)) == 4


def test_registration_refuses_bad_input_with_a_422_naming_the_field(server: LiveServer) -> None:
    client = server.client()
    for body, field in [
        ({"host": "h"}, "pid"),
        ({"host": "h", "pid": 0}, "pid"),
        ({"host": "", "pid": 3}, "host"),
        ({"host": "h", "pid": 3, "params": {"x": "\u0000"}}, "params"),
        ({"host": "h", "pid": 3, "recipe": "mlp"}, "recipe"),
    ]:
        reply = client.post("/api/external/runs", json=body)
        assert reply.status_code == 422, (body, reply.text)
        assert field in json.dumps(reply.json()["detail"]), reply.text
    assert client.get("/api/runs").json()["total"] == 0


def test_a_callback_its_client_cannot_build_is_refused_and_not_stored(
    server: LiveServer,
) -> None:
    run = _register(server)["run"]
    client = server.client()
    path = f"/api/runs/{run['id']}/callbacks"
    refused = client.post(path, json={"name": "checkpoint", "params": {}})
    assert refused.status_code == 422, refused.text
    error = refused.json()["detail"][0]
    assert error["loc"] == ["body", "name"] and "early_stopping" in error["msg"]
    assert client.get(f"/api/runs/{run['id']}").json()["callbacks"] == []
    kept = client.post(path, json={"name": "early_stopping", "params": {"patience": 2}})
    assert kept.status_code == 201, kept.text


def test_a_token_guards_registration_and_reporting(server_factory: Any) -> None:
    server = server_factory(token="t" * 32)
    body = {"host": "h", "pid": 3}
    import httpx

    assert httpx.post(f"{server.url}/api/external/runs", json=body).status_code == 401

    async def unauthenticated() -> None:
        async with websockets.connect(server.ws_url("/ws/report/abc")):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(unauthenticated())


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_fitboard_run_with_a_server_is_live_and_stops_from_rest(
    server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    env = fitboard_env(database_url) | {"HOME": str(tmp_path), "FITBOARD_URL": server.url}
    local = tmp_path / "terminal"
    args = ["run", "mlp", "--set", "epochs=100", "--set", "bs=8", "--data-dir", str(local)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        client = server.client()
        deadline = time.monotonic() + 60
        while not (runs := client.get("/api/runs").json()["items"]):
            assert time.monotonic() < deadline and proc.poll() is None, "never registered"
            time.sleep(0.1)
        run_id = runs[0]["id"]
        assert runs[0]["external"] is True and runs[0]["name"] == "mlp"

        async def two_live_epochs() -> list[dict[str, Any]]:
            async with websockets.connect(server.ws_url(f"/ws/runs/{run_id}")) as ws:
                return await receive_until(
                    ws, lambda m: (m["type"] == "epoch" and m["epoch"] >= 1) or finished(m)
                )

        messages = asyncio.run(two_live_epochs())
        assert [m["epoch"] for m in messages if m["type"] == "epoch"][:2] == [0, 1]
        asked = time.monotonic()
        assert client.post(f"/api/runs/{run_id}/stop").status_code == 202
        assert proc.stdout is not None
        for line in proc.stdout:  # the loop ended, its messages are delivered, it said so
            if "stopped from the dashboard" in line:
                break
        said = time.monotonic() - asked
        # Within 2 s; the interpreter's teardown after it (torch's modules) is not the run's.
        assert said < 2.0, said
        proc.wait(timeout=30)
        assert proc.returncode == 130
        run = wait_for_status(client, run_id, "stopped", timeout=10)
        assert run["stop_reason"]["source"] == "user"
        assert not (local / "fitboard.db").exists()  # the local database was not written
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()

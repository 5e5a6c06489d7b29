"""kill -9 of the server at many instants around epoch ends: whatever a client saw survives.

Each trial starts `fitboard serve` in its own process, watches a run over a WebSocket, and
SIGKILLs the server a different number of milliseconds after an epoch message arrived. After
a restart on the same database, every message the client received is stored exactly as it
was received, its seq is never numbered again, and the run is `interrupted`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.fixtures.processes import ServerProcess

# Milliseconds after an epoch message to kill at: the save, the fan-out and the checkpoint
# of one epoch end all happen in this window.
KILL_AFTER_MS = [0, 1, 3, 7, 15, 40]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def _watch_then_kill(server: ServerProcess, run_id: str, delay_ms: int) -> list[dict]:
    """Messages received until the server is killed `delay_ms` after the second epoch."""
    seen: list[dict[str, Any]] = []
    url = f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}"
    async with websockets.connect(url) as ws:
        while True:
            seen.append(json.loads(await ws.recv()))
            if seen[-1]["type"] == "epoch" and seen[-1]["epoch"] >= 1:
                break
        await asyncio.sleep(delay_ms / 1000)
        server.kill()
        try:  # whatever was already on its way still counts as seen
            while True:
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), 2)))
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
    return seen


@pytest.mark.parametrize("delay_ms", KILL_AFTER_MS)
def test_every_message_a_client_saw_survives_kill_9(
    database_url: str, tmp_path: Path, delay_ms: int
) -> None:
    server = ServerProcess(database_url, tmp_path)
    body = {
        "recipe": "mlp",
        "params": {"epochs": 40, "bs": 16},
        "callbacks": [{"name": "checkpoint", "params": {}}],
    }
    run_id = server.client.post("/api/runs", json=body).json()["id"]
    seen = asyncio.run(_watch_then_kill(server, run_id, delay_ms))

    server = ServerProcess(database_url, tmp_path)
    try:
        stored = server.client.get(f"/api/runs/{run_id}/events", params={"limit": 10000}).json()
        by_seq = {m["seq"]: m for m in stored}
        for message in seen:
            assert by_seq.get(message["seq"]) == message, f"seq {message['seq']} changed or lost"
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
        assert stored[-1]["type"] == "status" and stored[-1]["status"] == "interrupted"
        assert stored[-1]["seq"] > max(m["seq"] for m in seen)  # numbered after what went out
        assert server.client.get(f"/api/runs/{run_id}").json()["status"] == "interrupted"
    finally:
        server.stop()

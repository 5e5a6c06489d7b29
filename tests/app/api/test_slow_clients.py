"""Clients that stop reading are told to resume (4001, with the seq to resume from), not held
open until keep-alive drops them; what they did receive is gap-free, and resuming completes it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from typing import Any

import pytest
import websockets

from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.timeout(120)

EVENTS = 3000
PADDING = "x" * 1500  # ~4.5 MB of history: far more than the sockets' buffers hold


class NeverReadingClient:
    """A WebSocket client on a raw socket with a tiny receive buffer that reads nothing
    until told to: the server's sends block as a real stalled browser tab's would."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(1)  # byte by byte: leave the frames in the socket
        assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer

    def read_all(self) -> tuple[list[dict[str, Any]], int, str]:
        """Every text message until the close frame, then the close code and reason."""
        self.sock.settimeout(20)
        data, messages = b"", []
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection ended without a close frame")
            data += chunk
            while (frame := _frame(data)) is not None:
                opcode, payload, data = frame
                if opcode == 8:
                    code = struct.unpack("!H", payload[:2])[0]
                    return messages, code, payload[2:].decode()
                if opcode == 1:
                    messages.append(json.loads(payload))

    def close(self) -> None:
        self.sock.close()


def _frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(opcode, payload, rest) of the first whole unmasked frame in `data`, else None."""
    if len(data) < 2:
        return None
    opcode, length, start = data[0] & 0x0F, data[1] & 0x7F, 2
    if length == 126:
        if len(data) < 4:
            return None
        length, start = struct.unpack("!H", data[2:4])[0], 4
    elif length == 127:
        if len(data) < 10:
            return None
        length, start = struct.unpack("!Q", data[2:10])[0], 10
    if len(data) < start + length:
        return None
    return opcode, data[start : start + length], data[start + length :]


def _history(server: LiveServer) -> str:
    """A finished run with a long history, written through the server's own store."""
    assert server.app is not None
    store = server.app.state.store
    store.create_run(run_id="long", name="long", recipe="mlp", params={})
    messages = [
        {"type": "note", "run_id": "long", "seq": seq, "time": time.time(), "pad": PADDING}
        for seq in range(1, EVENTS + 1)
    ]
    for start in range(0, EVENTS, 500):
        store.save_events(messages[start : start + 500])
    return "long"


def test_clients_that_stop_reading_are_told_to_resume_and_can(server: LiveServer) -> None:
    run_id = _history(server)
    assert server.app is not None
    server.app.state.hub.send_timeout = 1.0
    stalled = [NeverReadingClient(server.port, f"/ws/runs/{run_id}") for _ in range(5)]
    time.sleep(4)  # longer than the send timeout: the server gives up on each of them
    try:
        for client in stalled:
            messages, code, reason = client.read_all()
            assert code == 4001 and "too slow" in reason
            resume_at = int(reason.rpartition("after_seq=")[2])
            seqs = [m["seq"] for m in messages]
            assert seqs == list(range(1, len(seqs) + 1))  # what arrived has no gap
            assert 0 < len(seqs) < EVENTS
            # The frame being sent when the server gave up may have arrived: at most one more.
            assert resume_at in (seqs[-1], seqs[-1] - 1)
    finally:
        for client in stalled:
            client.close()

    async def resume() -> list[int]:
        url = server.ws_url(f"/ws/runs/{run_id}?after_seq={resume_at}")
        async with websockets.connect(url, max_size=None) as ws:
            return [json.loads(await ws.recv())["seq"] for _ in range(EVENTS - resume_at)]

    assert asyncio.run(resume()) == list(range(resume_at + 1, EVENTS + 1))

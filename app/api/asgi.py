"""Small helpers for fitboard's pure ASGI middleware: a JSON refusal sent without FastAPI.

The middleware answers before any route runs (a wrong Host, a body over the limit), so it
writes its responses itself, in the same `{"detail": "..."}` shape as the API's errors.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send", "send_refusal"]


async def send_refusal(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str
) -> None:
    """Answer `status` with `{"detail": detail}`: an HTTP response, or for a WebSocket the
    handshake's HTTP response (close code 1008 where the server cannot send one)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect: the handshake request, which this answers
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})

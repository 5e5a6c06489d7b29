"""WebSockets: one run's messages (replay from `after_seq`, then live) and every run's status.

Close codes (docs/api.md): 4001 when the client fell too far behind or stopped reading
(reconnect with `after_seq` as the close reason says: the last seq the server knows it
delivered; the client may have one more, which it skips by seq); 1012 when the server
restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket, WebSocketDisconnect, status

from app.api.deps import WS_SUBPROTOCOL, HubDep, StoreDep, guard
from app.api.schemas import MAX_SEQ, PathId
from app.live.hub import SubscriberLagging, to_json

__all__ = ["CLOSE_LAGGING", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ws", dependencies=[Depends(guard)])

CLOSE_LAGGING = 4001
CLOSE_TIMEOUT = 5.0  # seconds to hand a close frame to a client that may not be reading


@router.websocket("/runs/{run_id}")
async def run_messages(
    websocket: WebSocket,
    run_id: PathId,
    hub: HubDep,
    store: StoreDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> None:
    """Every message of one run with seq > after_seq: the saved ones, then live."""
    if await asyncio.to_thread(store.get_run, run_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run with id {run_id!r}")
    stream = hub.stream(run_id, after_seq, store.events_after)
    await _serve(websocket, stream, after_seq, hub.send_timeout)


@router.websocket("/runs")
async def all_runs_messages(websocket: WebSocket, hub: HubDep) -> None:
    """Status and epoch messages of every run, live (for the runs list)."""
    await _serve(websocket, hub.stream_all(), None, hub.send_timeout)


async def _serve(
    websocket: WebSocket,
    messages: AsyncGenerator[dict[str, Any], None],
    after_seq: int | None,
    send_timeout: float,
) -> None:
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
    sender = asyncio.create_task(_send_all(websocket, messages, after_seq, send_timeout))
    receiver = asyncio.create_task(_until_disconnect(websocket))
    done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in (*done, *pending):
        try:
            await task
        except (asyncio.CancelledError, WebSocketDisconnect, OSError):
            pass  # a client gone mid-send is normal, not an error
        except Exception:
            log.exception("WebSocket stream of %s failed", websocket.url.path)


async def _send_all(
    websocket: WebSocket,
    messages: AsyncGenerator[dict[str, Any], None],
    after_seq: int | None,
    send_timeout: float,
) -> None:
    last = after_seq
    async with contextlib.aclosing(messages) as stream:
        try:
            async for message in stream:
                # A send that does not complete means the client's socket is full: it is not
                # reading. Its frame is handed over but unconfirmed, so `last` stays before it.
                await asyncio.wait_for(websocket.send_text(to_json(message)), send_timeout)
                last = message["seq"]
        except (SubscriberLagging, asyncio.TimeoutError):
            resume = f"; reconnect with after_seq={last}" if last is not None else "; reconnect"
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    websocket.close(CLOSE_LAGGING, f"client too slow{resume}"), CLOSE_TIMEOUT
                )


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # clients have nothing to say; reading notices when they leave

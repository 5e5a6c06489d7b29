"""Runs trained elsewhere: register one (`POST /api/external/runs`), then report on it over
`WS /ws/report/{run_id}`: messages up, commands down (docs/api.md, "Reporting a run trained
elsewhere"). Both sit behind the same guard (Host, Origin, token) as the rest of the API; the
socket also wants the run's write key, so a client reports only on the run it registered.

Close codes: 4400 a frame the server refuses (the reason names the field or the seq; nothing
of that frame is stored), 4403 not this run's write key (or no such external run), 4408
nothing heard for the heartbeat timeout, 4409 the run takes no more reports (finished or
interrupted), 1000 the run finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, WebSocket, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.deps import WS_SUBPROTOCOL, guard
from app.api.reporting import ProtocolError, new_messages, parse_hello, parse_report
from app.api.schemas import (
    GUARDED_RESPONSES,
    MAX_SEQ,
    JSONObject,
    PathId,
    RunOut,
    error_responses,
)
from app.api.storable import storable_text
from app.live.hub import to_json
from app.runs.external import ExternalRuns, ReportRefused

__all__ = ["api_router", "ws_router"]

log = logging.getLogger(__name__)

api_router = APIRouter(
    prefix="/api/external",
    tags=["runs"],
    dependencies=[Depends(guard)],
    responses=GUARDED_RESPONSES,
)
ws_router = APIRouter(prefix="/ws", dependencies=[Depends(guard)])

HELLO_TIMEOUT = 10.0  # seconds a new socket has to say which run's key it holds
CLOSE_REFUSED, CLOSE_SILENT, CLOSE_ENDED = 4400, 4408, 4409
MAX_CLOSE_REASON = 120  # bytes: a close frame's reason holds at most 123


async def get_external(conn: Request) -> ExternalRuns:
    return conn.app.state.external  # type: ignore[no-any-return]


async def get_external_ws(conn: WebSocket) -> ExternalRuns:
    return conn.app.state.external  # type: ignore[no-any-return]


class ExternalRunCreate(BaseModel):
    """A run about to train in the caller's own process: where, and with what."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "notebook", "params": {"lr": 0.3}, "host": "laptop", "pid": 4242}]
        },
    )

    name: Annotated[str, AfterValidator(storable_text)] | None = Field(
        None, min_length=1, max_length=200
    )
    params: JSONObject = Field(default_factory=dict)
    host: Annotated[str, AfterValidator(storable_text)] = Field(
        min_length=1, max_length=255, description="Host name of the training process."
    )
    pid: int = Field(ge=1, le=MAX_SEQ, description="Its process id.")


class ExternalRunCreated(BaseModel):
    """The registered run, and what its client reports with."""

    run: RunOut
    key: str = Field(description="The run's write key: the `hello` frame carries it.")
    report_path: str = Field(description="Where to report: `/ws/report/{run_id}`.")
    heartbeat_s: float = Field(
        description="Seconds of silence after which the run becomes interrupted."
    )


@api_router.post("/runs", status_code=status.HTTP_201_CREATED, responses=error_responses(413))
def register_external_run(
    body: ExternalRunCreate,
    external: Annotated[ExternalRuns, Depends(get_external)],
) -> ExternalRunCreated:
    """Register a run that trains in the caller's process (`trainer.DashboardCallback`): it is
    `running` from now on and reports over `report_path` with `key`."""
    row, key = external.register(name=body.name, params=body.params, host=body.host, pid=body.pid)
    return ExternalRunCreated(
        run=RunOut.model_validate(row),
        key=key,
        report_path=f"/ws/report/{row.id}",
        heartbeat_s=external.heartbeat_timeout,
    )


@ws_router.websocket("/report/{run_id}")
async def report(
    websocket: WebSocket,
    run_id: PathId,
    external: Annotated[ExternalRuns, Depends(get_external_ws)],
) -> None:
    """A client's reports on its run: `hello`, then `report` frames; commands come down."""
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
    try:
        event = await asyncio.wait_for(websocket.receive(), HELLO_TIMEOUT)
        hello = parse_hello(event.get("text"))
        last_seq = await asyncio.to_thread(external.authenticate, run_id, hello.key)
    except asyncio.TimeoutError:
        await _close(websocket, CLOSE_REFUSED, "say hello with the run's write key first")
        return
    except ProtocolError as exc:
        await _close(websocket, CLOSE_REFUSED, str(exc))
        return
    except ReportRefused as exc:
        await _close(websocket, exc.code, exc.reason)
        return
    await _Session(websocket, run_id, external).serve(last_seq)


class _Session:
    """One connected client: its frames up, and the server's frames down, at once."""

    def __init__(self, websocket: WebSocket, run_id: str, external: ExternalRuns) -> None:
        self.websocket, self.run_id, self.external = websocket, run_id, external
        self.down: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame for the client, from any thread (the manager's, the hub's)."""
        self._loop.call_soon_threadsafe(self.down.put_nowait, frame)

    async def serve(self, last_seq: int) -> None:
        welcome = {
            "type": "welcome",
            "run_id": self.run_id,
            "last_seq": last_seq,
            "heartbeat_s": self.external.heartbeat_timeout,
        }
        await self.websocket.send_text(to_json(welcome))
        remote = self.external.remote
        if not remote.connect(self.run_id, self.send):
            await _close(self.websocket, CLOSE_ENDED, "the run takes no more reports")
            return
        sender = asyncio.create_task(self._send_down())
        try:
            await self._receive_up()
        finally:
            remote.disconnect(self.run_id, self.send)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _receive_up(self) -> None:
        timeout = self.external.heartbeat_timeout
        while True:
            try:
                event = await asyncio.wait_for(self.websocket.receive(), timeout)
            except asyncio.TimeoutError:
                await _close(self.websocket, CLOSE_SILENT, f"nothing heard for {timeout:g} s")
                return
            if event["type"] == "websocket.disconnect":
                return
            last_seq = self.external.last_seq(self.run_id)
            if last_seq is None:  # interrupted meanwhile by the heartbeat
                await _close(self.websocket, CLOSE_ENDED, "the run takes no more reports")
                return
            try:
                messages = parse_report(event.get("text"))
                fresh = new_messages(messages, last_seq)
            except ProtocolError as exc:
                log.warning("report on %s refused: %s", self.run_id, exc)
                await _close(self.websocket, CLOSE_REFUSED, str(exc))
                return
            finished = await self.external.ingest(self.run_id, fresh)
            acked = messages[-1]["seq"] if messages else None
            if acked is not None:
                await self.websocket.send_text(to_json({"type": "ack", "seq": acked}))
            if finished:
                await _close(self.websocket, 1000, "run finished")
                return

    async def _send_down(self) -> None:
        while (frame := await self.down.get()) is not None:
            await self.websocket.send_text(to_json(frame))


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    encoded = reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, encoded), 5.0)

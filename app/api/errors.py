"""The API's error responses: the run domain's refusals as 404, 409 and 422, validation errors
with a bounded echo of the input, 405s that name every allowed method, a database that does
not answer as 503, and anything unexpected logged and answered 500 without a traceback."""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, WebSocket, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from app.runs import InvalidRequest, RunNotFound, RunStateConflict
from app.sweeps import SweepNotFound, SweepStateConflict

__all__ = ["MAX_LISTED_ERRORS", "add_error_handlers", "echo", "validation_error_body"]

log = logging.getLogger(__name__)

# A 422 shows what was wrong, not the request again: a 50 MB name must not come back as a
# 50 MB response, and a lone surrogate or a NaN in it must not turn the 422 into a 500.
MAX_LISTED_ERRORS = 20
_MAX_TEXT = 200  # characters of a string echoed in `input`
_MAX_MESSAGE = 500  # characters of `msg` (which may quote the input)
_MAX_ITEMS = 10  # keys or items of a container echoed
_MAX_DEPTH = 2  # containers deeper than this are summarised
_MAX_LOC = 20
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str, limit: int = _MAX_TEXT) -> str:
    shown = _SURROGATE.sub("\ufffd", value[:limit])  # UTF-8 cannot encode a lone surrogate
    return shown if len(value) <= limit else f"{shown}... ({len(value)} characters)"


def echo(value: Any, depth: int = 0) -> Any:
    """A small, JSON-safe copy of `value` to show in an error: strings cut to 200 characters,
    containers to 10 entries and 2 levels, non-finite floats and huge integers as words."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (bytes, bytearray)):
        return _text(bytes(value[: 4 * _MAX_TEXT]).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            return f"<object of {len(value)} keys>"
        shown = {
            _text(str(key)): echo(item, depth + 1)
            for key, item in itertools.islice(value.items(), _MAX_ITEMS)
        }
        if len(value) > _MAX_ITEMS:
            shown["..."] = f"{len(value) - _MAX_ITEMS} more keys"
        return shown
    if isinstance(value, (list, tuple, set, frozenset)):
        if depth >= _MAX_DEPTH:
            return f"<array of {len(value)} items>"
        items = [echo(item, depth + 1) for item in itertools.islice(value, _MAX_ITEMS)]
        if len(value) > _MAX_ITEMS:
            items.append(f"... {len(value) - _MAX_ITEMS} more items")
        return items
    return _text(str(value))  # an exception in `ctx`, a Decimal, ...


def _brief_error(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = [part if isinstance(part, int) else _text(str(part)) for part in error["loc"]]
    brief: dict[str, Any] = {
        "type": _text(str(error["type"])),
        "loc": loc[:_MAX_LOC],
        "msg": _text(str(error["msg"]), _MAX_MESSAGE),
    }
    if "input" in error:
        brief["input"] = echo(error["input"])
    if isinstance(error.get("ctx"), Mapping):
        brief["ctx"] = echo(error["ctx"], _MAX_DEPTH - 1)
    return brief


def validation_error_body(errors: list[Any]) -> dict[str, Any]:
    """The 422 body: the first `MAX_LISTED_ERRORS` errors, each with a bounded echo of its
    input, and `error_count`, how many there were in all."""
    listed = [_brief_error(error) for error in errors[:MAX_LISTED_ERRORS]]
    return {"detail": listed, "error_count": len(errors)}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path. Starlette's 405 names only the methods
    of the first route whose path matched (`/api/runs`: POST, though GET works too)."""
    probe = {
        "type": "http",
        "path": request.scope["path"],
        "root_path": request.scope.get("app_root_path", request.scope.get("root_path", "")),
        "headers": [],
    }
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in _METHODS
        if any(route.matches({**probe, "method": method})[0] == Match.FULL for route in routes)
    ]


def add_error_handlers(app: FastAPI) -> None:
    """JSON errors with the right status."""

    @app.exception_handler(RunNotFound)
    @app.exception_handler(SweepNotFound)
    async def not_found(_: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(RunStateConflict)
    @app.exception_handler(SweepStateConflict)
    async def conflict(_: Request, exc: RunStateConflict | SweepStateConflict) -> JSONResponse:
        body = {"detail": str(exc), "status": exc.status}
        return JSONResponse(body, status.HTTP_409_CONFLICT)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(list(exc.errors())), 422)

    @app.exception_handler(InvalidRequest)
    async def invalid(_: Request, exc: InvalidRequest) -> JSONResponse:
        # The domain counts from the request; an HTTP client reads locations from the body.
        return JSONResponse(validation_error_body(exc.within("body").errors), 422)

    @app.exception_handler(WebSocketRequestValidationError)
    async def invalid_handshake(websocket: WebSocket, exc: WebSocketRequestValidationError) -> None:
        # Refuse the handshake with the same 422 a bad HTTP query gets, where the server can
        # send an HTTP response to a WebSocket; else close with "policy violation".
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            body = validation_error_body(list(exc.errors()))
            await websocket.send_denial_response(JSONResponse(body, 422))
        else:
            await websocket.close(status.WS_1008_POLICY_VIOLATION, "invalid query parameters")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            methods = _allowed_methods(request)
            if methods:
                headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}
                exc = HTTPException(exc.status_code, exc.detail, headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(OperationalError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is down, unreachable or out of connections: the service, not the
        # request, is at fault, and a retry may succeed (a load balancer reads 503 so too).
        log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path, exc)
        body = {"detail": "the database is unavailable; try again shortly"}
        return JSONResponse(body, status.HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        body = {"detail": "internal server error"}
        return JSONResponse(body, status.HTTP_500_INTERNAL_SERVER_ERROR)

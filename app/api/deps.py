"""Typed dependencies of the routes, and the guard every API call and WebSocket passes.

All are `async def`: they only read memory, and a sync dependency would cost a thread hop
(several milliseconds under the GIL while a run trains).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from app.config import Settings
from app.db import Store
from app.live.hub import EventHub
from app.runs import RunManager

__all__ = [
    "BEARER_SUBPROTOCOL_PREFIX",
    "WS_SUBPROTOCOL",
    "HubDep",
    "ManagerDep",
    "SettingsDep",
    "StoreDep",
    "guard",
]

# Browsers cannot set headers on a WebSocket: they offer ["fitboard", "bearer.<token>"].
WS_SUBPROTOCOL = "fitboard"
BEARER_SUBPROTOCOL_PREFIX = "bearer."


async def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings  # type: ignore[no-any-return]


async def get_manager(conn: HTTPConnection) -> RunManager:
    return conn.app.state.manager  # type: ignore[no-any-return]


async def get_store(conn: HTTPConnection) -> Store:
    return conn.app.state.store  # type: ignore[no-any-return]


async def get_hub(conn: HTTPConnection) -> EventHub:
    return conn.app.state.hub  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
ManagerDep = Annotated[RunManager, Depends(get_manager)]
StoreDep = Annotated[Store, Depends(get_store)]
HubDep = Annotated[EventHub, Depends(get_hub)]


def _origin_allowed(conn: HTTPConnection, allowed: list[str]) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:  # not sent by a browser on a cross-site request
        return True
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == conn.headers.get("host")


def _presented_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in conn.scope.get("subprotocols", ()):
        if protocol.startswith(BEARER_SUBPROTOCOL_PREFIX):
            return protocol[len(BEARER_SUBPROTOCOL_PREFIX) :]
    return None


async def guard(conn: HTTPConnection, settings: SettingsDep) -> None:
    """Refuse other sites' browsers (403) and, with FITBOARD_TOKEN set, a missing token (401)."""
    if not _origin_allowed(conn, settings.allowed_origins):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "origin not allowed")
    if settings.token is None:
        return
    presented = _presented_token(conn)
    expected = settings.token.get_secret_value()
    if presented is None or not secrets.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong token: send 'Authorization: Bearer <FITBOARD_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )

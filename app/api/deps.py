"""Typed dependencies of the routes, and the guard every API call and WebSocket passes.

All are `async def`: they only read memory, and a sync dependency would cost a thread hop
(several milliseconds under the GIL while a run trains).

The Host header was already checked, for every request, by `app.api.hosts.HostCheckMiddleware`;
`guard` checks the Origin against the same `HostPolicy`, then the token.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from app.api.hosts import HostPolicy
from app.config import Settings
from app.db import Store
from app.live.hub import EventHub
from app.runs import RunManager
from app.sweeps import SweepDriver

__all__ = [
    "BEARER_SUBPROTOCOL_PREFIX",
    "WS_SUBPROTOCOL",
    "HostPolicyDep",
    "HubDep",
    "ManagerDep",
    "SettingsDep",
    "StoreDep",
    "SweepsDep",
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


async def get_sweeps(conn: HTTPConnection) -> SweepDriver:
    return conn.app.state.sweeps  # type: ignore[no-any-return]


async def get_host_policy(conn: HTTPConnection) -> HostPolicy:
    return conn.app.state.host_policy  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
HostPolicyDep = Annotated[HostPolicy, Depends(get_host_policy)]
ManagerDep = Annotated[RunManager, Depends(get_manager)]
StoreDep = Annotated[Store, Depends(get_store)]
HubDep = Annotated[EventHub, Depends(get_hub)]
SweepsDep = Annotated[SweepDriver, Depends(get_sweeps)]


def _presented_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in conn.scope.get("subprotocols", ()):
        if protocol.startswith(BEARER_SUBPROTOCOL_PREFIX):
            return protocol[len(BEARER_SUBPROTOCOL_PREFIX) :]
    return None


async def guard(conn: HTTPConnection, settings: SettingsDep, hosts: HostPolicyDep) -> None:
    """Refuse other sites' browsers (403) and, with FITBOARD_TOKEN set, a missing token (401).

    An Origin passes when FITBOARD_ALLOWED_ORIGINS lists it or its host is one this server
    answers to; never because it equals the Host header, which a rebinding page also sets.
    """
    if not hosts.allows_origin(conn.headers.get("origin")):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "origin not allowed: add it to FITBOARD_ALLOWED_ORIGINS to let its pages call fitboard",
        )
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

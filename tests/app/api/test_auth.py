"""A safe baseline: the token on every API call and WebSocket, and other sites refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-token-for-tests-0123456789"


def _ws_status(url: str, **kwargs: Any) -> int:
    """101 when the handshake succeeds, else the HTTP status of the refusal."""

    async def connect() -> int:
        async with websockets.connect(url, **kwargs) as ws:
            assert ws.subprotocol == kwargs.get("subprotocols", [None])[0]
            return 101

    try:
        return asyncio.run(connect())
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


@pytest.fixture
def secured(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory(token=TOKEN)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/health"),
        ("GET", "/api/recipes"),
        ("GET", "/api/callbacks"),
        ("GET", "/api/runs"),
        ("POST", "/api/runs"),
        ("GET", "/api/runs/abc/events"),
        ("POST", "/api/runs/abc/stop"),
    ],
)
def test_every_api_call_needs_the_token(secured: LiveServer, method: str, path: str) -> None:
    anonymous = secured.client(headers={"Authorization": ""})
    wrong = secured.client(headers={"Authorization": f"Bearer {TOKEN}x"})
    for client in (anonymous, wrong):
        response = client.request(method, path, json={"recipe": "mlp"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["detail"]
    assert secured.client().get("/api/runs").json()["total"] == 0


def test_the_right_token_opens_the_api(secured: LiveServer) -> None:
    client = secured.client()
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.post("/api/runs", json={"recipe": "nope"}).status_code == 422


def test_websockets_need_the_token_as_a_header_or_a_subprotocol(secured: LiveServer) -> None:
    url = secured.ws_url("/ws/runs")
    assert _ws_status(url) == 401
    assert _ws_status(url, subprotocols=["fitboard", "bearer.wrong"]) == 401
    assert _ws_status(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) == 101
    assert _ws_status(url, subprotocols=["fitboard", f"bearer.{TOKEN}"]) == 101


def test_a_websocket_from_another_site_is_refused(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(allowed_origins=["http://dashboard.example"])
    url = server.ws_url("/ws/runs")
    assert _ws_status(url, origin="http://evil.example") == 403
    assert _ws_status(url, origin="null") == 403
    assert _ws_status(url, origin=server.url) == 101  # the dashboard's own pages
    assert _ws_status(url, origin="http://dashboard.example") == 101
    assert _ws_status(url) == 101  # not a browser: no Origin header


def test_another_sites_page_cannot_start_or_stop_runs(server: LiveServer) -> None:
    evil = server.client(headers={"Origin": "http://evil.example"})
    response = evil.post("/api/runs", json={"recipe": "mlp"})
    assert response.status_code == 403 and "origin" in response.json()["detail"]
    assert evil.post("/api/runs/abc/stop").status_code == 403
    assert server.client().get("/api/runs").json()["total"] == 0

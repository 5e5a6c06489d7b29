"""The HTTP layer's defences: the Host rule (DNS rebinding), Origins, the security headers,
what the token guards, the body-size limit and honest 405s. Against a real uvicorn server."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from app.api.hosts import HostPolicy
from app.paths import TEMPLATES_DIR
from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)

TOKEN = "s3cret-token-for-tests-0123456789"
MiB = 1024 * 1024


def _as(server: LiveServer, host: str, origin: str | None = None) -> httpx.Client:
    """A client that connects to the server but names `host` (a rebinding page's view)."""
    headers = {"Host": host} | ({"Origin": origin} if origin else {})
    return server.client(headers=headers)


def _ws_status(server: LiveServer, path: str, host: str, origin: str | None = None) -> int:
    """101 when a WebSocket handshake naming `host` succeeds, else the refusal's status."""

    async def connect() -> int:
        sock = socket.create_connection(("127.0.0.1", server.port))  # whatever `host` says
        async with websockets.connect(f"ws://{host}{path}", sock=sock, origin=origin):
            return 101

    try:
        return asyncio.run(connect())
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


def _finished_run(server: LiveServer) -> str:
    client = server.client()
    run = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}).json()
    wait_for_status(client, run["id"], "completed")
    return str(run["id"])


# --- the Host rule: DNS rebinding ----------------------------------------------------------


def test_a_rebinding_page_can_neither_read_nor_change_anything(server: LiveServer) -> None:
    run_id = _finished_run(server)
    evil = f"evil.example:{server.port}"
    client = _as(server, evil, origin=f"http://{evil}")
    attempts = [
        client.get("/api/runs"),
        client.get(f"/api/runs/{run_id}"),
        client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}}),
        client.post(f"/api/runs/{run_id}/stop"),
        client.delete(f"/api/runs/{run_id}"),
        client.get("/"),  # the pages and their files too: nothing answers to that name
        client.get(f"/runs/{run_id}"),
        client.get("/static/js/runs_page.js"),
        client.get("/openapi.json"),
        client.get("/no/such/path"),
    ]
    for response in attempts:
        assert response.status_code == 400, (response.request.url, response.text)
        detail = response.json()["detail"]
        assert "host not allowed" in detail and "FITBOARD_ALLOWED_HOSTS" in detail
    # Without an Origin (not a browser's cross-site request) the Host alone is refused too.
    assert _as(server, evil).get("/api/runs").status_code == 400
    runs = server.client().get("/api/runs").json()
    assert [run["id"] for run in runs["items"]] == [run_id]  # none created, none deleted
    assert server.client().delete(f"/api/runs/{run_id}").status_code == 204


@pytest.mark.parametrize("path", ["/ws/runs", "/ws/runs/{run_id}"])
def test_a_rebinding_page_cannot_open_a_websocket(server: LiveServer, path: str) -> None:
    run = server.client().post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}})
    path = path.format(run_id=run.json()["id"])
    evil = f"evil.example:{server.port}"
    assert _ws_status(server, path, evil, origin=f"http://{evil}") == 400
    assert _ws_status(server, path, evil) == 400
    local = f"localhost:{server.port}"
    assert _ws_status(server, path, local, origin=f"http://{local}") == 101


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_names_are_always_served(server: LiveServer, name: str) -> None:
    host = f"{name}:{server.port}"
    client = _as(server, host, origin=f"http://{host}")
    assert client.get("/api/runs").status_code == 200
    assert client.get("/").status_code == 200
    created = client.post("/api/runs", json={"recipe": "mlp", "params": {"epochs": 1}})
    assert created.status_code == 201, created.text
    assert _ws_status(server, "/ws/runs", host, origin=f"http://{host}") == 101


def test_allowed_hosts_and_the_hosts_of_allowed_origins_are_served(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(
        allowed_hosts=["fitboard.lan"], allowed_origins=["https://fitboard.example.com"]
    )
    for host in (f"fitboard.lan:{server.port}", "FITBOARD.LAN", "fitboard.example.com"):
        assert _as(server, host).get("/api/runs").status_code == 200, host
    lan = _as(server, "fitboard.lan", origin=f"http://fitboard.lan:{server.port}")
    assert lan.post("/api/runs", json={"recipe": "nope"}).status_code == 422  # past the guard
    assert _as(server, "other.lan").get("/api/runs").status_code == 400


def test_an_origin_is_never_allowed_for_matching_the_host(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(allowed_hosts=["*"])  # the Host rule off: only the Origin is left
    evil = f"evil.example:{server.port}"
    assert _as(server, evil).get("/api/runs").status_code == 200
    page = _as(server, evil, origin=f"http://{evil}")
    response = page.post("/api/runs", json={"recipe": "mlp"})
    assert response.status_code == 403 and "FITBOARD_ALLOWED_ORIGINS" in response.json()["detail"]
    assert page.get("/api/runs").status_code == 403
    assert _ws_status(server, "/ws/runs", evil, origin=f"http://{evil}") == 403
    assert server.client().get("/api/runs").json()["total"] == 0


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("LOCALHOST:8000", True),
        ("127.0.0.1:1", True),
        ("127.0.0.2:8000", True),  # all of 127/8 is loopback
        ("[::1]:8000", True),
        ("[0:0:0:0:0:0:0:1]", True),
        ("fitboard.lan:8443", True),
        ("fitboard.example.com", True),  # the host of an allowed origin
        ("evil.example", False),
        ("localhost.evil.example", False),
        ("fitboard.lan.evil.example", False),
        ("::1", False),  # an IPv6 Host must be bracketed
        ("localhost:http", False),
        ("localhost:99999", False),
        ("[::1", False),
        ("", False),
        (None, False),
    ],
)
def test_the_host_policy(host: str | None, allowed: bool) -> None:
    policy = HostPolicy(["fitboard.lan"], ["https://fitboard.example.com"], "0.0.0.0")
    assert policy.allows_host(host) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser's cross-site request
        ("http://localhost:3000", True),  # a loopback name, whatever the port
        ("http://[::1]:8000", True),
        ("https://fitboard.example.com", True),
        ("http://fitboard.lan:8000", True),
        ("http://evil.example:8000", False),
        ("null", False),
        ("ftp://localhost", False),
        ("http://localhost.evil.example", False),
    ],
)
def test_the_origin_policy(origin: str | None, allowed: bool) -> None:
    policy = HostPolicy(["fitboard.lan"], ["https://fitboard.example.com"], "127.0.0.1")
    assert policy.allows_origin(origin) is allowed


def test_a_specific_bind_address_is_an_allowed_host_and_a_wildcard_is_not() -> None:
    assert HostPolicy(bind_host="192.168.1.5").allows_host("192.168.1.5:8000")
    assert HostPolicy(bind_host="fe80::1").allows_host("[fe80::1]:8000")
    assert not HostPolicy(bind_host="0.0.0.0").allows_host("0.0.0.0:8000")
    assert HostPolicy(bind_host="0.0.0.0").loopback_only
    assert not HostPolicy(["*"], bind_host="0.0.0.0").loopback_only


# --- headers every response carries ---------------------------------------------------------


def _check_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_every_response_carries_the_security_headers(server: LiveServer) -> None:
    client = server.client()
    responses = [
        client.get("/"),
        client.get("/compare"),
        client.get("/static/js/runs_page.js"),
        client.get("/api/health"),
        client.get("/api/runs/missing"),  # 404
        client.post("/api/runs", json={}),  # 422
        client.request("OPTIONS", "/api/runs"),  # 405
        _as(server, "evil.example").get("/"),  # 400, refused before any route
    ]
    for response in responses:
        _check_security_headers(response)
    page_policy = responses[0].headers["content-security-policy"]
    assert "'unsafe-inline'" not in page_policy and "'unsafe-eval'" not in page_policy
    assert "script-src 'self';" in page_policy and "style-src 'self';" in page_policy


def test_even_a_500_carries_the_security_headers(server: LiveServer) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    assert server.app is not None
    server.app.add_api_route("/test-only/broken", broken)  # routes are matched per request
    response = server.client().get("/test-only/broken")
    assert response.status_code == 500
    _check_security_headers(response)


def test_the_pages_need_no_inline_script_or_style() -> None:
    """What the pages' policy refuses, the templates must not hold."""
    for template in TEMPLATES_DIR.glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), template.name
        assert "<style" not in html and " style=" not in html, template.name
        assert not re.search(r"\son[a-z]+=", html), template.name  # no inline handlers


# --- what the token guards, and what stays public --------------------------------------------


def test_with_a_token_the_api_description_needs_it_and_the_pages_do_not(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(token=TOKEN)
    anonymous = server.client(headers={"Authorization": ""})
    for path in ("/openapi.json", "/docs", "/redoc"):
        refused = anonymous.get(path)
        assert refused.status_code == 401, path
        assert "FITBOARD_TOKEN" in refused.json()["detail"]
        assert server.client().get(path).status_code == 200, path
    for path in ("/", "/compare", "/runs/abc", "/static/css/app.css"):
        assert anonymous.get(path).status_code == 200, path
    assert "/api/runs" in server.client().get("/openapi.json").json()["paths"]


def test_the_docs_pages_allow_only_their_own_inline_script(server: LiveServer) -> None:
    docs = server.client().get("/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    assert re.search(
        r"script-src 'self' https://cdn\.jsdelivr\.net 'sha256-[A-Za-z0-9+/=]+'", policy
    )
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert server.client().get("/openapi.json").json()["info"]["title"] == "fitboard"


# --- the body-size limit ----------------------------------------------------------------------


def _raw_request(server: LiveServer, head: str) -> bytes:
    """Send only a request's head and return what the server answers before any body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server: LiveServer) -> None:
    head = (
        "POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * MiB}\r\n\r\n"
    )
    answer = _raw_request(server, head)  # no body follows: the answer cannot wait for it
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"FITBOARD_MAX_BODY_BYTES" in answer
    assert b"x-content-type-options: nosniff" in answer.lower()


def test_a_streamed_body_over_the_limit_is_a_413(server: LiveServer) -> None:
    def body() -> Any:  # chunked: no Content-Length to refuse up front
        yield b'{"recipe": "mlp", "name": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    headers = {"Content-Type": "application/json"}
    response = server.client().post("/api/runs", content=body(), headers=headers)
    assert response.status_code == 413, response.text
    assert "FITBOARD_MAX_BODY_BYTES" in response.json()["detail"]
    assert server.client().get("/api/runs").json()["total"] == 0


def test_the_limit_is_the_setting(server_factory: Callable[..., LiveServer]) -> None:
    server = server_factory(max_body_bytes=4096)
    client = server.client()
    too_big = client.post("/api/runs", json={"recipe": "mlp", "name": "a" * 5000})
    assert too_big.status_code == 413 and "4096" in too_big.json()["detail"]
    just_under = client.post("/api/runs", json={"recipe": "mlp", "name": "a" * 200, "x": 1})
    assert just_under.status_code == 422  # read and validated


# --- 405s name every method ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/runs", "GET, POST"),
        ("/api/runs/abc", "GET, PATCH, DELETE"),  # PATCH: name, tags, note (issue 11)
        ("/api/runs/abc/callbacks", "POST"),
        ("/api/health", "GET"),
    ],
)
def test_options_names_every_allowed_method(server: LiveServer, path: str, allowed: str) -> None:
    response = server.client().request("OPTIONS", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert server.client().request("PUT", path).headers["allow"] == allowed

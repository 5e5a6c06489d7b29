"""The Host and Origin policy: the names this server answers to, and the browser origins that
may call it. One policy, for every HTTP request and WebSocket handshake.

Why the Host matters: a page on `evil.example` whose name is re-pointed at 127.0.0.1 (DNS
rebinding) reaches a loopback server with `Host: evil.example` and, being same-origin to the
browser, may read the answers. A server that answers only to its own names is out of reach.
`HostCheckMiddleware` refuses every other Host (400) before any route, page or static file;
`HostPolicy.allows_origin` is what `app.api.deps.guard` checks an `Origin` header against.

The allowed hosts are the loopback names (`localhost`, `127.0.0.1`, `[::1]`, ...), the address
the server binds to when it is a specific one, `FITBOARD_ALLOWED_HOSTS` and the host of every
`FITBOARD_ALLOWED_ORIGINS` entry. Ports do not matter: a rebinding attacker controls the name,
never the port. An origin is allowed if it is listed in `FITBOARD_ALLOWED_ORIGINS` or its host
is an allowed host; never merely because it matches the request's own Host header.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from app.api.asgi import ASGIApp, Receive, Scope, Send, send_refusal
from app.config import Settings, is_loopback

__all__ = ["HostCheckMiddleware", "HostPolicy", "split_authority"]

_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")
_ECHO_LIMIT = 100  # characters of a refused Host quoted back, enough to recognise it


def split_authority(value: str) -> tuple[str, int | None] | None:
    """`host[:port]` (a Host header, an origin's authority) as the normalised host and the
    port, or None when it is not one. Hosts are lowercase; IPv6 ones bracketed and compressed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        try:
            host = f"[{ipaddress.IPv6Address(value[1:end]).compressed}]" if end > 0 else ""
        except ValueError:
            return None
        rest = value[end + 1 :]
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
        if not _NAME.fullmatch(host):
            return None
    if not host or (rest and not rest.startswith(":")):
        return None
    digits = rest[1:]
    if not digits:
        return host, None
    if not (digits.isascii() and digits.isdigit() and int(digits) <= 65535):
        return None
    return host, int(digits)


def _bound_host(bind: str) -> str | None:
    """The address `fitboard serve` binds to, as a Host names it; None for a wildcard (0.0.0.0
    or ::), which is no name a client uses."""
    if ":" in bind and not bind.startswith("["):
        bind = f"[{bind}]"  # a bare IPv6 address
    parsed = split_authority(bind)
    if parsed is None:
        return None
    try:
        if ipaddress.ip_address(parsed[0].strip("[]")).is_unspecified:
            return None
    except ValueError:
        pass  # a name, such as example.org
    return parsed[0]


class HostPolicy:
    """Which Host headers and Origin headers this server accepts (see the module docstring)."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        bind_host: str = "127.0.0.1",
    ) -> None:
        allowed_hosts, allowed_origins = list(allowed_hosts), list(allowed_origins)
        self.any_host = "*" in allowed_hosts
        self.any_origin = "*" in allowed_origins
        self.origins = {origin.rstrip("/").lower() for origin in allowed_origins}
        authorities = [host for host in allowed_hosts if host != "*"]
        authorities += [urlsplit(origin).netloc for origin in self.origins if origin != "*"]
        parsed = [split_authority(authority) for authority in authorities]
        self.hosts = {host for host, _ in filter(None, parsed)}
        bound = _bound_host(bind_host)
        if bound is not None:
            self.hosts.add(bound)

    @property
    def loopback_only(self) -> bool:
        """Whether only loopback names are served (a wildcard bind with no names listed)."""
        return not self.any_host and not self.hosts

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        """The policy `settings` describe (allowed_hosts, allowed_origins, host)."""
        return cls(settings.allowed_hosts, settings.allowed_origins, settings.host)

    def _allows_name(self, host: str) -> bool:
        return is_loopback(host) or host in self.hosts

    def allows_host(self, header: str | None) -> bool:
        """Whether a request with this Host header is for this server."""
        if self.any_host:
            return True
        parsed = split_authority(header) if header is not None else None
        return parsed is not None and self._allows_name(parsed[0])

    def allows_origin(self, origin: str | None) -> bool:
        """Whether a browser page of this origin may call the API and open WebSockets. No
        Origin header is no browser's cross-site request, and is allowed."""
        if origin is None or self.any_origin:
            return True
        origin = origin.strip().lower()
        if origin.rstrip("/") in self.origins:
            return True
        scheme, _, authority = origin.partition("://")
        parsed = split_authority(authority) if scheme in ("http", "https") else None
        return parsed is not None and self._allows_name(parsed[0])

    def refusal(self, header: str | None) -> str:
        """The 400's detail for a refused Host: what was asked for, and the setting to change."""
        shown = "no Host header" if header is None else repr(header[:_ECHO_LIMIT])
        return (
            f"host not allowed: {shown} is not a name of this server; "
            "add it to FITBOARD_ALLOWED_HOSTS"
        )


class HostCheckMiddleware:
    """Refuse (400) every HTTP request and WebSocket handshake whose Host `policy` does not
    allow: the API, the pages, the static files and anything else the app would answer."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _header(scope, b"host")
            if not self.policy.allows_host(host):
                await send_refusal(scope, receive, send, 400, self.policy.refusal(host))
                return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None

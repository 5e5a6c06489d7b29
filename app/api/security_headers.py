"""`SecurityHeadersMiddleware`: the browser-side protections every response carries.

- `Content-Security-Policy`: the pages run only fitboard's own scripts and styles from
  /static (ES modules and the vendored uPlot; no inline script or style attribute), talk only
  to this server (fetch and WebSockets) and cannot be framed. A response that sets its own
  policy keeps it (the /docs and /redoc pages, which load their viewer from a CDN).
- `X-Frame-Options: DENY`: no clickjacking in browsers that predate `frame-ancestors`.
- `X-Content-Type-Options: nosniff`: a JSON error echoing input is never run as a script.
- `Referrer-Policy: same-origin`: run ids in URLs stay on this server.
"""

from __future__ import annotations

from app.api.asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeadersMiddleware"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the empty favicon (`data:,`): no request for /favicon.ico
        "connect-src 'self'",  # the JSON API and the WebSockets (ws: on the same host)
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
_ENCODED = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_STARTS = ("http.response.start", "websocket.http.response.start")


class SecurityHeadersMiddleware:
    """Add `SECURITY_HEADERS` to every HTTP response (and WebSocket refusal) that does not set
    them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in _STARTS:
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers += [(name, value) for name, value in _ENCODED if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

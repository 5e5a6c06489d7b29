"""`BodyLimitMiddleware`: no request body larger than FITBOARD_MAX_BODY_BYTES is read (413).

Every body the API accepts is a small JSON object; without a limit one request could make the
server hold gigabytes. A declared `Content-Length` over the limit is refused before a byte is
read; a body sent without one (chunked) is counted as it arrives and refused once it passes
the limit, so no more than the limit (and the one chunk that crossed it) is ever in memory.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

from app.api.asgi import ASGIApp, Message, Receive, Scope, Send, send_refusal

__all__ = ["BodyLimitMiddleware", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """The body passed the limit while the app was reading it. An HTTPException, so FastAPI's
    body reading lets it through to the 413 handler instead of calling it a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (FITBOARD_MAX_BODY_BYTES)")


class BodyLimitMiddleware:
    """Refuse (413) HTTP requests whose body is larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        if self._declared_length(scope) > self.max_bytes:
            await send_refusal(scope, receive, send, too_large.status_code, too_large.detail)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:  # too late for a 413: the server drops the connection instead
                raise
            await send_refusal(scope, receive, send, too_large.status_code, too_large.detail)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0  # the server has already refused a malformed one
        return 0

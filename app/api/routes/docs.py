"""The API's own description: `/openapi.json` and its viewers `/docs` (Swagger UI) and `/redoc`.

They sit behind `guard` like the API: with FITBOARD_TOKEN set they need the token too (the
schema lists every route and parameter; nothing an anonymous visitor needs). A browser cannot
send the token on a page load, so with a token set, read the schema with
`curl -H "Authorization: Bearer $FITBOARD_TOKEN" .../openapi.json` instead.

The viewers load their scripts and styles from a CDN, which the dashboard's
Content-Security-Policy refuses: these two pages carry their own, wider one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from app.api.deps import guard

__all__ = ["DOCS_CONTENT_SECURITY_POLICY", "OPENAPI_URL", "router"]

OPENAPI_URL = "/openapi.json"
_CDN = "https://cdn.jsdelivr.net"
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' {_CDN} {{inline_scripts}}",
        # ReDoc styles its page with <style> elements it writes at run time.
        f"style-src 'self' {_CDN} https://fonts.googleapis.com 'unsafe-inline'",
        "font-src 'self' https://fonts.gstatic.com",
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        "worker-src 'self' blob:",  # ReDoc searches in a worker
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter(include_in_schema=False, dependencies=[Depends(guard)])


@router.get(OPENAPI_URL)
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of the JSON API."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the schema."""
    return _with_policy(get_swagger_ui_html(openapi_url=OPENAPI_URL, title=_title(request)))


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the schema."""
    return _with_policy(get_redoc_html(openapi_url=OPENAPI_URL, title=_title(request)))


def _title(request: Request) -> str:
    return f"{request.app.title} API"


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """`page` with a policy that allows exactly its own inline scripts, by hash."""
    scripts = _INLINE_SCRIPT.findall(bytes(page.body).decode())
    hashes = " ".join(f"'sha256-{_digest(script)}'" for script in scripts)
    policy = DOCS_CONTENT_SECURITY_POLICY.format(inline_scripts=hashes)
    page.headers["Content-Security-Policy"] = policy
    return page


def _digest(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()

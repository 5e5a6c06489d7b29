"""`create_app(settings)`: the FastAPI application: its routes, pages and lifespan.

Run it with `fitboard serve`, or `uvicorn --factory app.main:create_app
--ws-per-message-deflate false`: whoever starts uvicorn passes it `SERVER_OPTIONS`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import add_error_handlers
from app.api.hosts import HostCheckMiddleware, HostPolicy
from app.api.routes import (
    artifacts,
    callbacks,
    datasets,
    docs,
    forks,
    health,
    lr_find,
    recipes,
    report,
    run_edits,
    runs,
    sweeps,
    ws,
)
from app.api.security_headers import SecurityHeadersMiddleware
from app.catalog import load_user_modules
from app.config import Settings, get_settings
from app.db.sweep_store import SweepStore
from app.paths import STATIC_DIR
from app.services import running_services
from app.sweeps import SweepDriver

__all__ = ["SERVER_OPTIONS", "create_app"]

log = logging.getLogger(__name__)

# uvicorn options fitboard is served with. No per-message deflate: messages are a few hundred
# bytes, and compressing each one once per client took 140 us of the GIL a message, most of
# the cost of 100 watchers to training (bench/service.py).
SERVER_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False}


class _FitboardApp(FastAPI):
    """FastAPI with `SecurityHeadersMiddleware` outside Starlette's own error middleware, so
    that even a 500 carries the security headers (middleware added the usual way sits inside
    it)."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def create_app(settings: Settings | None = None) -> FastAPI:
    """The fitboard app for `settings` (default: read from the environment)."""
    settings = settings or get_settings()
    load_user_modules(settings.recipe_modules, settings.callback_modules)
    app = _FitboardApp(
        title="fitboard",
        summary="Launch, watch and stop PyTorch training runs.",
        version="0.1.0",
        lifespan=_lifespan,
        # Served by routes/docs.py instead, behind the same guard as the API.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.host_policy = HostPolicy.from_settings(settings)
    if app.state.host_policy.loopback_only:  # bound to 0.0.0.0 with no public name listed
        log.warning(
            "fitboard answers only to localhost and loopback addresses: set "
            "FITBOARD_ALLOWED_HOSTS (or FITBOARD_ALLOWED_ORIGINS) to the names clients use"
        )
    # The last added runs first: a wrong Host is refused before the body is even counted.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostCheckMiddleware, policy=app.state.host_policy)
    routers = (
        health,
        recipes,
        callbacks,
        run_edits,  # before runs: /api/runs/bulk/delete is not a run id
        runs,
        forks,
        lr_find,
        sweeps,
        artifacts,
        datasets,
        ws,
        docs,
    )
    for module in routers:
        app.include_router(module.router)
    app.include_router(report.api_router)
    app.include_router(report.ws_router)
    _include_pages(app)
    add_error_handlers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with running_services(app.state.settings) as services:
        app.state.store, app.state.hub = services.store, services.hub
        app.state.manager = services.manager
        app.state.external = services.external
        # Sweeps are the server's, not `fitboard run`'s: started after the manager recovered
        # orphaned runs (their trials are then `interrupted`), stopped before it shuts down.
        driver = SweepDriver(
            app.state.settings, services.manager, services.hub, SweepStore(services.store.engine)
        )
        await asyncio.to_thread(driver.start)
        app.state.sweeps = driver
        try:
            yield
        finally:
            await asyncio.to_thread(driver.shutdown)


def _include_pages(app: FastAPI) -> None:
    """The browser pages and their assets, where this installation has them."""
    try:
        pages = importlib.import_module("app.api.routes.pages")
    except ModuleNotFoundError as exc:
        if exc.name != "app.api.routes.pages":
            raise
    else:
        app.include_router(pages.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

"""`create_app(settings)`: the FastAPI application, its lifespan and its error responses.

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

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app.api.routes import callbacks, health, recipes, runs, ws
from app.config import Settings, get_settings
from app.db import Store, init_db, make_engine
from app.hub import EventHub
from app.manager import RunManager, RunNotFound, RunStateConflict
from app.paths import STATIC_DIR
from app.recipes import load_recipe_modules, registry
from app.validation import InvalidRequest

__all__ = ["SERVER_OPTIONS", "create_app"]

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0  # seconds to wait for running runs to reach their next batch

# uvicorn options fitboard is served with. No per-message deflate: messages are a few hundred
# bytes, and compressing each one once per client took 140 us of the GIL a message, most of
# the cost of 100 watchers to training (bench/service.py).
SERVER_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The fitboard app for `settings` (default: read from the environment)."""
    settings = settings or get_settings()
    load_recipe_modules(settings.recipe_modules)
    app = FastAPI(
        title="fitboard",
        summary="Launch, watch and stop PyTorch training runs.",
        version="0.1.0",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    for module in (health, recipes, callbacks, runs, ws):
        app.include_router(module.router)
    _include_pages(app)
    _add_error_handlers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = make_engine(settings.database_url or "")
    await asyncio.to_thread(init_db, engine)
    store = Store(engine)
    hub = EventHub(store.save_events)
    hub.start()
    manager = RunManager(settings, store, hub, registry)
    await asyncio.to_thread(manager.start)
    app.state.store, app.state.hub, app.state.manager = store, hub, manager
    try:
        yield
    finally:
        await asyncio.to_thread(manager.shutdown, SHUTDOWN_TIMEOUT)
        await hub.close()  # everything published is saved before the process exits
        engine.dispose()


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


def _add_error_handlers(app: FastAPI) -> None:
    """JSON errors with the right status; anything unexpected is logged and answered 500."""

    @app.exception_handler(RunNotFound)
    async def not_found(_: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(RunStateConflict)
    async def conflict(_: Request, exc: RunStateConflict) -> JSONResponse:
        body = {"detail": str(exc), "status": exc.status}
        return JSONResponse(body, status.HTTP_409_CONFLICT)

    @app.exception_handler(InvalidRequest)
    async def invalid(request: Request, exc: InvalidRequest) -> JSONResponse:
        return await request_validation_exception_handler(
            request, RequestValidationError(exc.errors)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        body = {"detail": "internal server error"}
        return JSONResponse(body, status.HTTP_500_INTERNAL_SERVER_ERROR)

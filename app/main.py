"""`create_app(settings)`: the FastAPI application, its lifespan and its error responses.

Run it with `fitboard serve`, or `uvicorn --factory app.main:create_app
--ws-per-message-deflate false`: whoever starts uvicorn passes it `SERVER_OPTIONS`.
"""

from __future__ import annotations

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
from app.manager import RunNotFound, RunStateConflict
from app.paths import STATIC_DIR
from app.recipes import load_recipe_modules
from app.services import running_services
from app.validation import InvalidRequest

__all__ = ["SERVER_OPTIONS", "create_app"]

log = logging.getLogger(__name__)

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
    async with running_services(app.state.settings) as services:
        app.state.store, app.state.hub = services.store, services.hub
        app.state.manager = services.manager
        yield


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

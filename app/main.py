"""`create_app(settings)`: the FastAPI application: its routes, pages and lifespan.

Run it with `fitboard serve`, or `uvicorn --factory app.main:create_app
--ws-per-message-deflate false`: whoever starts uvicorn passes it `SERVER_OPTIONS`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.errors import add_error_handlers
from app.api.routes import callbacks, health, recipes, runs, ws
from app.catalog import load_modules
from app.config import Settings, get_settings
from app.paths import STATIC_DIR
from app.services import running_services

__all__ = ["SERVER_OPTIONS", "create_app"]

# uvicorn options fitboard is served with. No per-message deflate: messages are a few hundred
# bytes, and compressing each one once per client took 140 us of the GIL a message, most of
# the cost of 100 watchers to training (bench/service.py).
SERVER_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The fitboard app for `settings` (default: read from the environment)."""
    settings = settings or get_settings()
    load_modules(settings.recipe_modules)
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
    add_error_handlers(app)
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

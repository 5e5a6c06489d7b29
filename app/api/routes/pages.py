"""The HTML pages: a shell per page; the data comes from the JSON API and the WebSockets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.paths import TEMPLATES_DIR

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)


def _server_facts(request: Request) -> dict[str, Any]:
    """What every page shows of the server: whether it asks for a token (the topbar's
    "Access token" button is there only then)."""
    return {"token_required": request.app.state.settings.token is not None}


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_server_facts])


@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    """The runs list with its launch form."""
    return templates.TemplateResponse(request, "runs.html", {"page": "runs"})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> HTMLResponse:
    """One run: live charts, stop, callbacks, event log. An unknown id is reported by the page
    itself (the API answers 404), so a run deleted in another tab gets a clear message."""
    return templates.TemplateResponse(request, "run.html", {"page": "run", "run_id": run_id})


@router.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
def sweep_page(request: Request, sweep_id: str) -> HTMLResponse:
    """One sweep: best trial, history, intermediate values, parallel coordinates, trials."""
    context = {"page": "sweep", "sweep_id": sweep_id}
    return templates.TemplateResponse(request, "sweep.html", context)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request) -> HTMLResponse:
    """Epoch curves of several runs overlaid (`?ids=a,b,c`)."""
    return templates.TemplateResponse(request, "compare.html", {"page": "compare"})

"""The API's error responses: the run domain's refusals as 404, 409 and 422, anything
unexpected logged and answered 500 without a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.runs import InvalidRequest, RunNotFound, RunStateConflict

__all__ = ["add_error_handlers"]

log = logging.getLogger(__name__)


def add_error_handlers(app: FastAPI) -> None:
    """JSON errors with the right status."""

    @app.exception_handler(RunNotFound)
    async def not_found(_: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(RunStateConflict)
    async def conflict(_: Request, exc: RunStateConflict) -> JSONResponse:
        body = {"detail": str(exc), "status": exc.status}
        return JSONResponse(body, status.HTTP_409_CONFLICT)

    @app.exception_handler(InvalidRequest)
    async def invalid(request: Request, exc: InvalidRequest) -> JSONResponse:
        # The domain counts from the request; an HTTP client reads locations from the body.
        errors = exc.within("body").errors
        return await request_validation_exception_handler(request, RequestValidationError(errors))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        body = {"detail": "internal server error"}
        return JSONResponse(body, status.HTTP_500_INTERNAL_SERVER_ERROR)

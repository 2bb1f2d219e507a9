"""Map domain errors and request-validation failures to JSON `{code, message, details}` in one place."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_trainer.core.errors import AppError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors if e["field"]) or "request"
        message = f"Invalid value for {fields}: " + "; ".join(e["message"] for e in errors)
        return JSONResponse(error_body("validation_error", message, {"errors": errors}), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # The log keeps the traceback; the answer carries only an id to find it (no paths, no internals).
        error_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s", error_id)
        return JSONResponse(
            error_body(
                "internal_error",
                f"Unexpected server error (id {error_id}). The server log has the details under that id.",
                {"error_id": error_id},
            ),
            status_code=500,
        )

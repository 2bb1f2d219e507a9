"""`GET /` health check (spec) and `/api/health`; browsers asking for HTML get the web UI instead."""

from __future__ import annotations

import platform

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from llm_trainer import __version__
from llm_trainer.api.deps import SettingsDep

router = APIRouter(tags=["health"])


def health_payload() -> dict:
    return {
        "status": "ok",
        "service": "llm-trainer",
        "version": __version__,
        "python": platform.python_version(),
    }


@router.get("/api/health", summary="Health check (JSON)")
def api_health() -> dict:
    return health_payload()


@router.get("/", summary="Health check; the web UI for browsers", response_model=None)
def root(request: Request, settings: SettingsDep) -> FileResponse | JSONResponse:
    # Content negotiation: API clients (curl, scripts) get JSON; a browser that prefers HTML gets the UI.
    accept = request.headers.get("accept", "")
    index = settings.frontend_dist / "index.html"
    if "text/html" in accept and index.is_file():
        return FileResponse(index)
    return JSONResponse(health_payload())

"""Serve the built web UI: hashed assets, and index.html for client-side routes (never for the API)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

# Paths that belong to the API or docs: a miss there must stay a JSON 404, not the UI.
API_PREFIXES = (
    "/api",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/upload",
    "/datasets",
    "/train",
    "/models",
    "/predict",
    "/v1",  # the OpenAI-compatible API
)


def _is_api_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in API_PREFIXES)


def mount_spa(app: FastAPI, dist: Path) -> None:
    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

    @app.get("/{full_path:path}", include_in_schema=False)
    def spa_fallback(full_path: str, request: Request) -> FileResponse:
        path = "/" + full_path
        candidate = (dist / full_path).resolve()
        if full_path and candidate.is_file() and dist.resolve() in candidate.parents:
            return FileResponse(candidate)  # favicon, robots.txt...
        if _is_api_path(path) or "text/html" not in request.headers.get("accept", ""):
            raise StarletteHTTPException(status_code=404, detail=f"No such path: {path}")
        index = dist / "index.html"
        if not index.is_file():
            raise StarletteHTTPException(
                status_code=404, detail="The web UI is not built: run `make run` (or `npm run build`)."
            )
        return FileResponse(index)

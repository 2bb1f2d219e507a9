"""Run endpoints for the UI: list, detail, metric history, logs, stop/cancel/resume and a live SSE stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from llm_trainer.api.deps import SessionDep, SettingsDep
from llm_trainer.api.routes.training import wake_scheduler
from llm_trainer.api.schemas.training import MetricList, RunList, RunLogs, RunPublic
from llm_trainer.api.sse import snapshot_stream
from llm_trainer.services import runs as runs_service
from llm_trainer.services import training

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get("", response_model=RunList, summary="Runs, newest first")
def list_runs(
    session: SessionDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    return runs_service.list_runs(session, status=status, limit=limit, offset=offset)


@router.get("/events", summary="Server-sent events: every run's snapshot when it changes")
async def all_run_events(request: Request) -> EventSourceResponse:
    return _stream(request, None)


@router.get("/{run_id}", response_model=RunPublic)
def get_run(run_id: int, session: SessionDep) -> Any:
    return runs_service.public_run(session, training.get_run(session, run_id))


@router.get("/{run_id}/metrics", response_model=MetricList, summary="History points (train, eval, system)")
def run_metrics(
    run_id: int,
    session: SessionDep,
    kind: Annotated[list[str] | None, Query(description="train, eval or system; repeatable")] = None,
    after_id: Annotated[int, Query(ge=0, description="Only points newer than this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
) -> Any:
    return runs_service.run_metrics(session, run_id, kinds=kind, after_id=after_id, limit=limit)


@router.get("/{run_id}/logs", response_model=RunLogs, summary="The last lines of the run's log file")
def run_logs(
    run_id: int, session: SessionDep, settings: SettingsDep, lines: Annotated[int, Query(ge=1, le=5000)] = 200
) -> Any:
    return runs_service.run_logs(session, settings, run_id, lines)


@router.post("/{run_id}/stop", response_model=RunPublic, summary="Graceful stop; a second stop kills the worker")
def stop_run(run_id: int, session: SessionDep) -> Any:
    return runs_service.public_run(session, training.stop_run(session, run_id))


@router.post("/{run_id}/cancel", response_model=RunPublic, summary="Remove a queued run from the queue")
def cancel_run(run_id: int, session: SessionDep) -> Any:
    return runs_service.public_run(session, training.cancel_run(session, run_id))


@router.post("/{run_id}/resume", response_model=RunPublic, summary="Continue a stopped/interrupted run")
def resume_run(run_id: int, request: Request, session: SessionDep) -> Any:
    run = training.resume_run(session, run_id)
    wake_scheduler(request)
    return runs_service.public_run(session, run)


@router.get("/{run_id}/events", summary="Server-sent events for one run")
async def run_events(run_id: int, request: Request) -> EventSourceResponse:
    return _stream(request, run_id)


def _stream(request: Request, run_id: int | None) -> EventSourceResponse:
    return snapshot_stream(request, request.app.state.run_events, "run", run_id)

"""Background jobs of every kind (training, batch prediction, export): list, detail, log tail and live SSE streams.

Events are named `job` and carry the JobPublic shape whenever it changes; the one-job stream ends after the job's
terminal status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from llm_trainer.api.deps import SessionDep, SettingsDep
from llm_trainer.api.schemas.jobs import JobLog, JobPublic
from llm_trainer.api.sse import snapshot_stream
from llm_trainer.core.jobs import JobKind
from llm_trainer.services import job_events

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("", response_model=list[JobPublic], summary="Background jobs of every kind, newest first")
def list_jobs(
    session: SessionDep,
    kind: JobKind | None = None,
    belongs_to: Annotated[
        int | None, Query(description="With kind: only the jobs of this run (train), batch job or version (export)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    return job_events.public_jobs(session, kind, limit, belongs_to)


@router.get("/events", summary="Server-sent events: every job's snapshot when it changes (new jobs included)")
async def all_job_events(request: Request) -> EventSourceResponse:
    return snapshot_stream(request, request.app.state.job_events, "job")


@router.get("/{job_id}", response_model=JobPublic, summary="One job")
def get_job(job_id: int, session: SessionDep) -> Any:
    return job_events.public_job(session, job_events.get_job(session, job_id))


@router.get("/{job_id}/log", response_model=JobLog, summary="The last lines of the job's log file (bounded)")
def job_log(
    job_id: int,
    session: SessionDep,
    settings: SettingsDep,
    lines: Annotated[int, Query(ge=1, le=job_events.LOG_MAX_LINES)] = 200,
) -> Any:
    return job_events.job_log(session, settings, job_id, lines)


@router.get("/{job_id}/events", summary="Server-sent events for one job, ending after its terminal status")
def job_events_stream(job_id: int, request: Request, session: SessionDep) -> EventSourceResponse:
    job_events.get_job(session, job_id)  # an unknown id answers 404 before the stream opens
    return snapshot_stream(request, request.app.state.job_events, "job", job_id, last=job_events.is_final)

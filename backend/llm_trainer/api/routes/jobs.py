"""`GET /api/jobs`: every background job (training, batch prediction, export), newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from llm_trainer.api.deps import SessionDep
from llm_trainer.api.schemas.jobs import JobPublic
from llm_trainer.core.jobs import JobKind
from llm_trainer.services import jobs as jobs_service

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("", response_model=list[JobPublic], summary="Background jobs of every kind, newest first")
def list_jobs(
    session: SessionDep, kind: JobKind | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> Any:
    return jobs_service.public_jobs(session, kind, limit)

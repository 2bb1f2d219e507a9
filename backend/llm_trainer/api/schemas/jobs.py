"""Response shape of the jobs list: every kind of background work in one form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from llm_trainer.core.jobs import JobKind, JobProgress, JobStatus


class JobPublic(BaseModel):
    id: int
    kind: JobKind
    status: JobStatus
    params: dict[str, Any] = Field(description="The kind's typed parameters (run_id, batch_job_id, version_id...).")
    result: dict[str, Any] = Field(description="What the finished job produced (version id, output file...).")
    progress: JobProgress
    error_message: str
    owner: str = Field(description="The process that claimed it: host:pid:start time.")
    attempts: int
    log_path: str
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = Field(description="Seconds from start to finish (or to now while it runs).")

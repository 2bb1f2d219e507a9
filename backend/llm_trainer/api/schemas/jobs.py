"""Public shape of a job: every kind of background work in one form (list, detail and the live stream)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from llm_trainer.core.jobs import JobKind, JobProgress, JobStatus


class JobProgressPublic(JobProgress):
    fraction: float | None = Field(description="done / total (0..1); 1 once succeeded; None while total is unknown.")
    eta_s: float | None = Field(
        description="Seconds left while running: the run's own estimate for training, the pace so far otherwise."
    )


class JobPublic(BaseModel):
    id: int
    kind: JobKind
    status: JobStatus
    subject: str = Field(description="What the job works on: run name, batch file name, 'version · variant'...")
    params: dict[str, Any] = Field(description="The kind's typed parameters (run_id, batch_job_id, version_id...).")
    result: dict[str, Any] = Field(description="What the finished job produced (version id, output file...).")
    progress: JobProgressPublic
    error_message: str
    owner: str = Field(description="The process that claimed it: host:pid:start time.")
    attempts: int
    log_path: str
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = Field(description="Seconds from start to finish (or to now while it runs).")


class JobLog(BaseModel):
    job_id: int
    lines: list[str] = Field(description="The last lines of the job's log file, oldest first.")
    size_bytes: int = Field(description="Size of the whole log file.")
    has_log: bool = Field(description="False for kinds that run inside the server and keep no log file of their own.")

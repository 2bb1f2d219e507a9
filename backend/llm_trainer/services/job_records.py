"""Who owns a job, and keeping a training run's own row in step with its `train` job.

A run keeps its runs row (config, progress, stop flag, the public status with `stopping`); the job is the record of
the lifecycle every kind shares (owner, heartbeat, attempts). Every run status change goes through `move_run`, so
the two never disagree: both change in one transaction.
"""

from __future__ import annotations

import logging
import os
import socket
from functools import cache
from typing import Any

import psutil
from sqlalchemy.orm import Session

from llm_trainer.core.errors import AppError
from llm_trainer.core.jobs import InvalidJobTransition, JobKind, JobResult, JobStatus, TrainParams
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.models import Job, Run
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo

log = logging.getLogger(__name__)

# A stopping run is still a running job: only the run row knows a stop was asked for.
JOB_STATUS_OF_RUN = {status: JobStatus(status.value) for status in RunStatus if status is not RunStatus.STOPPING}
JOB_STATUS_OF_RUN[RunStatus.STOPPING] = JobStatus.RUNNING


@cache
def process_owner() -> str:
    """This process as a job owner: host:pid:start time (a recycled pid never passes for a dead owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(psutil.Process().create_time())}"


def owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this host; None for another host's (only its heartbeat tells)."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if not owner or not pid.isdigit():
        return False  # rows carried over from before jobs had owners
    if host != socket.gethostname():
        return None
    try:
        return int(psutil.Process(int(pid)).create_time()) == int(started or 0)
    except (psutil.Error, ValueError):
        return False


def error_text(exc: BaseException) -> str:
    """One readable line for the user: the app's own message, else the exception."""
    if isinstance(exc, AppError):
        return exc.message
    return f"Unexpected error: {exc.__class__.__name__}: {exc}"


def run_id_of(job: Job) -> int:
    return TrainParams.model_validate(job.params).run_id


def submit_run(session: Session, run: Run) -> Job:
    """Queue the `train` job of a freshly created run."""
    return jobs_repo.submit(session, JobKind.TRAIN, TrainParams(run_id=run.id), log_path=run.output_dir)


def job_of_run(session: Session, run_id: int) -> Job | None:
    """The run's train job (every run has one: submitted with it, or carried over by migrations 0003/0005)."""
    found = jobs_repo.of_kind_where(session, JobKind.TRAIN, "run_id", run_id)
    return found[0] if found else None


def move_run(session: Session, run_id: int, new: RunStatus, *, result: JobResult | None = None, **fields: Any) -> bool:
    """Move the run (compare-and-set, as runs_repo.transition) and its train job with it, in one transaction;
    False when refused."""
    if not runs_repo.transition(session, run_id, new, **fields):
        return False
    job = job_of_run(session, run_id)
    target = JOB_STATUS_OF_RUN[new]
    if job is None:
        log.warning("run %s -> %s: it has no train job", run_id, new.value)
    elif job.status != target.value:
        try:
            jobs_repo.transition(
                session, job.id, JobStatus(job.status), target,
                error_message=fields.get("error_message", ""), result=result,
            )  # fmt: skip
        except InvalidJobTransition:
            log.warning("run %s -> %s: its job %s is %s and stays so", run_id, new.value, job.id, job.status)
    session.commit()
    return True

"""Queries for whole-file prediction jobs: create, progress updates, finish, jobs left unfinished by a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from llm_trainer.db.models import BatchJob


def create_job(session: Session, **fields: Any) -> BatchJob:
    job = BatchJob(**fields)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> BatchJob | None:
    return session.get(BatchJob, job_id)


def list_jobs(session: Session, limit: int = 50) -> list[BatchJob]:
    return list(session.scalars(select(BatchJob).order_by(BatchJob.id.desc()).limit(limit)))


def set_progress(session: Session, job_id: int, **fields: Any) -> None:
    session.execute(update(BatchJob).where(BatchJob.id == job_id).values(**fields))


def finish(session: Session, job_id: int, status: str, **fields: Any) -> None:
    set_progress(session, job_id, status=status, finished_at=datetime.now(UTC), **fields)


def unfinished(session: Session) -> list[BatchJob]:
    """Jobs a previous server process left queued or running, oldest first."""
    stmt = select(BatchJob).where(BatchJob.status.in_(("queued", "running"))).order_by(BatchJob.id)
    return list(session.scalars(stmt))


def input_paths(session: Session) -> list[str]:
    """Every batch job's kept upload (the orphan sweep keeps their folders)."""
    return list(session.scalars(select(BatchJob.input_path)))

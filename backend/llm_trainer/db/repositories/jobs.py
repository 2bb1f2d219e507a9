"""Queries for the jobs table: submit, the compare-and-set claim, heartbeats, finishing, stale and orphaned jobs.

Every state change is one conditional UPDATE (plain SQL, so SQLite and PostgreSQL behave the same) that only
applies while the row is still in the expected state; the caller learns from the rowcount whether it won.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from llm_trainer.core.jobs import JobKind, JobStatus, check_transition, parse_params
from llm_trainer.core.run_status import RunPhase
from llm_trainer.db.models import Job


def _now() -> datetime:
    return datetime.now(UTC)


def submit(session: Session, kind: JobKind, params: BaseModel, log_path: str = "") -> Job:
    """Queue a job; params are validated against the kind's model before anything is written."""
    checked = parse_params(kind, params.model_dump())
    job = Job(kind=kind.value, status=JobStatus.QUEUED.value, params=checked.model_dump(), log_path=log_path)
    session.add(job)
    session.flush()
    return job


def get(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, kind: JobKind | None = None, limit: int = 100) -> list[Job]:
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind.value)
    return list(session.scalars(stmt))


def next_queued(session: Session, kinds: list[JobKind]) -> list[Job]:
    """Queued jobs of the given kinds, oldest first (claim candidates)."""
    stmt = select(Job).where(Job.status == JobStatus.QUEUED.value, Job.kind.in_([k.value for k in kinds]))
    return list(session.scalars(stmt.order_by(Job.id)))


def claim(session: Session, job_id: int, owner: str, *, limit: int | None = None) -> bool:
    """Compare-and-set queued -> running recording the owner; False when another process claimed it first, or
    (with `limit`) when that many jobs of its kind already run: one statement, so racing dispatchers cannot both
    pass the limit on SQLite."""
    now = _now()
    stmt = update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
    if limit is not None:
        running = aliased(Job)
        busy = select(func.count(running.id)).where(
            running.status == JobStatus.RUNNING.value, running.kind == Job.kind
        )  # correlated with the row being updated
        stmt = stmt.where(busy.scalar_subquery() < limit)
    stmt = (
        stmt.values(status=JobStatus.RUNNING.value, owner=owner, started_at=now, heartbeat_at=now, finished_at=None)
        .values(attempts=Job.attempts + 1, progress={"done": 0, "total": 0, "message": RunPhase.STARTING})
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def give_back(session: Session, job_id: int, owner: str) -> bool:
    """Running -> queued for a job its owner stops on purpose (server shutdown): the claim is undone, attempts too,
    so the restart policy's count of deaths stays what it was."""
    check_transition(JobStatus.RUNNING, JobStatus.QUEUED)
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.owner == owner)
        .values(status=JobStatus.QUEUED.value, owner="", started_at=None, heartbeat_at=None, attempts=Job.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def heartbeat(session: Session, job_id: int, owner: str, progress: dict[str, object] | None = None) -> bool:
    """Record that the owner is alive; False when the job is no longer this owner's running job."""
    values: dict[str, object] = {"heartbeat_at": _now()}
    if progress is not None:
        values["progress"] = progress
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.owner == owner, Job.status == JobStatus.RUNNING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def set_log_path(session: Session, job_id: int, log_path: str) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(log_path=log_path))


def transition(
    session: Session,
    job_id: int,
    expected: JobStatus,
    new: JobStatus,
    *,
    owner: str | None = None,
    error_message: str = "",
    result: BaseModel | None = None,
) -> bool:
    """Move expected -> new (checked against the lifecycle) only if the row is still `expected` (and owned by
    `owner` when given); terminal states stamp finished_at, re-queueing clears the owner."""
    check_transition(expected, new)
    values: dict[str, object] = {"status": new.value}
    if error_message:
        values["error_message"] = error_message
    if result is not None:
        values["result"] = result.model_dump()
    if new.is_terminal:
        values["finished_at"] = _now()
    if new is JobStatus.QUEUED:
        values.update(owner="", started_at=None, heartbeat_at=None, finished_at=None, error_message="")
    stmt = update(Job).where(Job.id == job_id, Job.status == expected.value)
    if owner is not None:
        stmt = stmt.where(Job.owner == owner)
    return session.execute(stmt.values(**values).execution_options(synchronize_session=False)).rowcount == 1


def of_kind_where(session: Session, kind: JobKind, key: str, value: int) -> list[Job]:
    """Jobs of `kind` whose params[key] == value, newest first (a run's train job, a version's exports)."""
    stmt = select(Job).where(Job.kind == kind.value, Job.params[key].as_integer() == value)
    return list(session.scalars(stmt.order_by(Job.id.desc())))


def of_kind(session: Session, kind: JobKind) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.kind == kind.value).order_by(Job.id)))


def unfinished(session: Session, kind: JobKind) -> list[Job]:
    """Queued and running jobs of one kind."""
    active = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    return list(session.scalars(select(Job).where(Job.kind == kind.value, Job.status.in_(active)).order_by(Job.id)))


def count_running(session: Session, kind: JobKind, host: str | None = None) -> int:
    """How many jobs of a kind run now (a read: a full limit is learnt without taking the write lock); with `host`,
    only those of that machine's processes (owners are host:pid:start)."""
    stmt = select(func.count(Job.id)).where(Job.kind == kind.value, Job.status == JobStatus.RUNNING.value)
    if host is not None:
        stmt = stmt.where(Job.owner.startswith(f"{host}:"))
    return int(session.scalar(stmt) or 0)


def running(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status == JobStatus.RUNNING.value).order_by(Job.id)))


def stale_running(session: Session, timeout_s: float) -> list[Job]:
    """Running jobs whose last heartbeat is older than timeout_s (hung or dead owners)."""
    cutoff = _now() - timedelta(seconds=timeout_s)
    stmt = select(Job).where(Job.status == JobStatus.RUNNING.value, Job.heartbeat_at < cutoff)
    return list(session.scalars(stmt.order_by(Job.id)))

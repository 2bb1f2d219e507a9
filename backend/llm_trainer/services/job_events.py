"""Reading jobs for the UI: the one public shape every kind shares (progress fraction and ETA, what it belongs to),
a job's log tail, and the live job stream (services/live.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import InvalidInput, NotFound
from llm_trainer.core.jobs import (
    BatchPredictParams,
    ExportParams,
    JobKind,
    JobStatus,
    PrepareModelParams,
    TrainParams,
)
from llm_trainer.db.models import Job
from llm_trainer.db.repositories import batch_jobs as batch_repo
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.db.repositories import versions_query
from llm_trainer.services.live import SnapshotHub
from llm_trainer.worker.launch import log_path, tail

LOG_MAX_LINES = 2000
LOG_MAX_BYTES = 256_000  # the most of a log file one request reads, however long its lines
# Which params key names the thing a job belongs to (GET /api/jobs?kind=...&belongs_to=id).
BELONGS_TO_KEY = {JobKind.TRAIN: "run_id", JobKind.BATCH_PREDICT: "batch_job_id", JobKind.EXPORT: "version_id"}
NEW_JOBS_WINDOW = 50  # the stream also looks at this many newest jobs, so one that ends within a tick is still sent


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def get_job(session: Session, job_id: int) -> Job:
    job = jobs_repo.get(session, job_id)
    if job is None:
        raise NotFound(
            f"Job {job_id} does not exist (it may have been deleted with its run or model). "
            "GET /api/jobs lists the jobs there are.",
            code="job_not_found",
            details={"job_id": job_id},
        )
    return job


def public_job(session: Session, job: Job, now: datetime | None = None) -> dict[str, Any]:
    """The JobPublic shape: columns, progress with fraction and ETA, duration so far, and what the job is about."""
    now = now or datetime.now(UTC)
    data: dict[str, Any] = {c.name: getattr(job, c.name) for c in Job.__table__.columns}
    started, ended = _aware(job.started_at), _aware(job.finished_at)
    elapsed = ((ended or now) - started).total_seconds() if started else None
    subject, run_eta = _subject(session, job)
    progress = job.progress or {}
    done, total = int(progress.get("done") or 0), int(progress.get("total") or 0)
    fraction = 1.0 if job.status == JobStatus.SUCCEEDED.value else (min(done / total, 1.0) if total else None)
    eta = None
    if job.status == JobStatus.RUNNING.value:
        eta = run_eta if run_eta is not None else _linear_eta(done, total, elapsed)
    data["progress"] = {
        "done": done,
        "total": total,
        "message": str(progress.get("message") or ""),
        "fraction": fraction,
        "eta_s": eta,
    }
    data["duration_s"] = round(elapsed, 1) if elapsed is not None else None
    data["subject"] = subject
    return data


def public_jobs(
    session: Session, kind: JobKind | None, limit: int, belongs_to: int | None = None
) -> list[dict[str, Any]]:
    """Newest first; `belongs_to` narrows to the jobs of one run, batch job or version (the kind says which)."""
    if belongs_to is None:
        jobs = jobs_repo.list_jobs(session, kind, limit)
    elif kind in BELONGS_TO_KEY:
        jobs = jobs_repo.of_kind_where(session, kind, BELONGS_TO_KEY[kind], belongs_to)[:limit]
    else:
        raise InvalidInput(
            "belongs_to needs kind=train (a run id), kind=batch_predict (a batch job id) or kind=export "
            "(a version id).",
            code="belongs_to_needs_kind",
            details={"kinds": [k.value for k in BELONGS_TO_KEY]},
        )
    now = datetime.now(UTC)
    return [public_job(session, job, now) for job in jobs]


def _linear_eta(done: int, total: int, elapsed: float | None) -> float | None:
    """Seconds left at the pace so far; None until a unit is done."""
    if not elapsed or done <= 0 or total <= done:
        return None
    return round(elapsed * (total - done) / done, 1)


def _subject(session: Session, job: Job) -> tuple[str, float | None]:
    """(the name of what the job works on, the run's own ETA for training: it knows its time per step)."""
    try:
        kind = JobKind(job.kind)
        if kind is JobKind.TRAIN:
            run = runs_repo.get_run(session, TrainParams.model_validate(job.params).run_id)
            if run is None:
                return "", None
            eta = (run.progress or {}).get("eta_s")
            return run.name or run.base_model, float(eta) if isinstance(eta, int | float) else None
        if kind is JobKind.BATCH_PREDICT:
            batch = batch_repo.get_job(session, BatchPredictParams.model_validate(job.params).batch_job_id)
            return (batch.filename if batch else ""), None
        if kind is JobKind.EXPORT:
            params = ExportParams.model_validate(job.params)
            version = versions_query.get_version(session, params.version_id)
            return (f"{version.name} · {params.variant}" if version else params.variant), None
        if kind is JobKind.PREPARE_MODEL:
            return PrepareModelParams.model_validate(job.params).base_model, None
    except ValueError:  # a kind or params of another version: the job is still listed, without its subject
        pass
    return "", None


def job_log(session: Session, settings: Settings, job_id: int, lines: int) -> dict[str, Any]:
    """The last `lines` lines (at most LOG_MAX_BYTES) of the job's log file; training writes one per run, light
    jobs run inside the server and log there (`has_log` false)."""
    path = _log_file(settings, get_job(session, job_id))
    size = path.stat().st_size if path is not None and path.is_file() else 0
    text = tail(path, lines=min(lines, LOG_MAX_LINES), max_bytes=LOG_MAX_BYTES) if size else ""
    return {
        "job_id": job_id,
        "lines": text.splitlines() if text else [],
        "size_bytes": size,
        "has_log": path is not None,
    }


def _log_file(settings: Settings, job: Job) -> Path | None:
    if job.kind == JobKind.TRAIN.value:
        try:
            return log_path(settings.runs_dir, TrainParams.model_validate(job.params).run_id)
        except ValueError:
            return None
    if not job.log_path:
        return None
    path = Path(job.log_path).resolve()
    inside = path.is_relative_to(settings.data_dir.resolve())
    return path if inside and not path.is_dir() else None  # only files the app wrote under its data dir


class JobEventHub(SnapshotHub):
    """Live job snapshots (the JobPublic shape) for GET /api/jobs/events and /api/jobs/{id}/events."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.newest_seen: int | None = None

    def read_one(self, session: Session, key: int) -> dict[str, Any] | None:
        job = jobs_repo.get(session, key)
        return public_job(session, job) if job else None

    def read_current(self, session: Session) -> list[dict[str, Any]]:
        return [public_job(session, job) for job in self._live(session)]

    def read_changed(self, session: Session, known: list[int]) -> list[dict[str, Any]]:
        """Live jobs, the known ones, and any created since the last tick (even one that already ended)."""
        jobs = {job.id: job for job in self._live(session)}
        newest = jobs_repo.list_jobs(session, None, NEW_JOBS_WINDOW)
        if self.newest_seen is not None:
            jobs |= {job.id: job for job in newest if job.id > self.newest_seen}
        self.newest_seen = max([self.newest_seen or 0, *(job.id for job in newest)])
        for job_id in known:
            if job_id not in jobs and (job := jobs_repo.get(session, job_id)) is not None:
                jobs[job_id] = job
        now = datetime.now(UTC)
        return [public_job(session, job, now) for job in jobs.values()]

    def is_live(self, snap: dict[str, Any]) -> bool:
        return not JobStatus(snap["status"]).is_terminal

    @staticmethod
    def _live(session: Session) -> list[Job]:
        return [*jobs_repo.running(session), *jobs_repo.next_queued(session, list(JobKind))]


def is_final(snap: dict[str, Any]) -> bool:
    """A job stream ends after the first terminal snapshot."""
    return JobStatus(snap["status"]).is_terminal

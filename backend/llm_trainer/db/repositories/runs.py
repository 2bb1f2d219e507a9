"""Queries for training runs and their metric history; every status change goes through `check_transition`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from llm_trainer.core.run_status import RunStatus, check_transition
from llm_trainer.db.models import Run, RunMetric, utcnow

ACTIVE = (RunStatus.RUNNING.value, RunStatus.STOPPING.value)


def create_run(session: Session, **fields: Any) -> Run:
    run = Run(status=RunStatus.QUEUED.value, **fields)
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def list_runs(session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Run]:
    stmt = select(Run).order_by(Run.id.desc()).limit(limit).offset(offset)
    if status:
        stmt = stmt.where(Run.status == status)
    return list(session.scalars(stmt))


def count_runs(session: Session, *, status: str | None = None) -> int:
    stmt = select(func.count(Run.id))
    if status:
        stmt = stmt.where(Run.status == status)
    return int(session.scalar(stmt) or 0)


def run_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Run.id)))


def queued_runs(session: Session) -> list[Run]:
    """The queue in FIFO order."""
    stmt = select(Run).where(Run.status == RunStatus.QUEUED.value).order_by(Run.queued_at, Run.id)
    return list(session.scalars(stmt))


def active_runs(session: Session) -> list[Run]:
    stmt = select(Run).where(Run.status.in_(ACTIVE)).order_by(Run.started_at, Run.id)
    return list(session.scalars(stmt))


def queue_positions(session: Session) -> dict[int, int]:
    """run id -> 1-based position in the queue."""
    return {run.id: i for i, run in enumerate(queued_runs(session), start=1)}


def transition(session: Session, run_id: int, new: RunStatus | str, **fields: Any) -> bool:
    """Move a run to `new` (plus `fields`) atomically; False when its current status forbids the move.

    Compare-and-set on the status column, so a worker and the server racing on one run cannot overwrite
    each other's decision with a stale read. The caller commits (services/job_records.move_run moves the run and
    its train job in one transaction).
    """
    for _ in range(5):
        current = session.scalar(select(Run.status).where(Run.id == run_id))
        if current is None:
            return False
        try:
            target = check_transition(current, new)
        except ValueError:
            return False
        result = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == current)
            .values(status=target.value, **fields)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.expire_all()
            return True
    return False


def update_fields(session: Session, run_id: int, **fields: Any) -> None:
    """Set non-status columns (pid, progress, stop flag...) of a run."""
    session.execute(update(Run).where(Run.id == run_id).values(**fields).execution_options(synchronize_session=False))


def merge_progress(session: Session, run_id: int, snapshot: dict[str, Any]) -> None:
    """Merge `snapshot` into the run's latest progress JSON."""
    current = session.scalar(select(Run.progress).where(Run.id == run_id)) or {}
    update_fields(session, run_id, progress={**current, **snapshot})


def is_stop_requested(session: Session, run_id: int) -> bool:
    return bool(session.scalar(select(Run.stop_requested).where(Run.id == run_id)))


def add_metrics(session: Session, run_id: int, rows: Iterable[tuple[str, int, float, dict[str, Any]]]) -> None:
    """Append (kind, step, epoch, values) history points."""
    payload = [
        {"run_id": run_id, "kind": kind, "step": step, "epoch": epoch, "values": values, "created_at": utcnow()}
        for kind, step, epoch, values in rows
    ]
    if payload:
        session.execute(insert(RunMetric), payload)


def list_metrics(
    session: Session, run_id: int, *, kinds: Sequence[str] | None = None, after_id: int = 0, limit: int = 5000
) -> list[RunMetric]:
    stmt = select(RunMetric).where(RunMetric.run_id == run_id, RunMetric.id > after_id)
    if kinds:
        stmt = stmt.where(RunMetric.kind.in_(kinds))
    return list(session.scalars(stmt.order_by(RunMetric.id).limit(limit)))


def runs_changed_since(session: Session, ids: Iterable[int]) -> list[Run]:
    """The active and queued runs plus the given ids (whose status may just have ended)."""
    stmt = select(Run).where(Run.status.in_((*ACTIVE, RunStatus.QUEUED.value)) | Run.id.in_(list(ids)))
    return list(session.scalars(stmt))

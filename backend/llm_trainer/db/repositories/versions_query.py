"""Reading, updating and deleting model versions (creation lives in model_versions.py, owned by training)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from llm_trainer.db.models import BatchJob, ModelVersion

ACTIVE_JOB_STATUSES = ("queued", "running")


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())))


def version_ids(session: Session) -> set[int]:
    return set(session.scalars(select(ModelVersion.id)))


def get_version(session: Session, version_id: int) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


def default_version(session: Session) -> ModelVersion | None:
    """The version marked default, else the newest succeeded one, else the newest of any status."""
    marked = session.scalars(select(ModelVersion).where(ModelVersion.is_default.is_(True)).limit(1)).first()
    if marked:
        return marked
    newest = select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc()).limit(1)
    succeeded = session.scalars(newest.where(ModelVersion.status == "succeeded")).first()
    return succeeded or session.scalars(newest).first()


def set_default(session: Session, version: ModelVersion) -> None:
    """Exactly one default: clear the flag everywhere, then set it on `version`."""
    session.execute(update(ModelVersion).where(ModelVersion.id != version.id).values(is_default=False))
    version.is_default = True
    session.flush()


def update_fields(session: Session, version: ModelVersion, **fields: Any) -> ModelVersion:
    for name, value in fields.items():
        setattr(version, name, value)
    session.flush()
    return version


def active_batch_jobs(session: Session, version_id: int) -> int:
    """How many queued/running batch jobs use this version (deleting it then is refused)."""
    stmt = select(func.count(BatchJob.id)).where(
        BatchJob.model_id == version_id, BatchJob.status.in_(ACTIVE_JOB_STATUSES)
    )
    return int(session.scalar(stmt) or 0)


def delete_version(session: Session, version: ModelVersion) -> None:
    session.delete(version)
    session.flush()

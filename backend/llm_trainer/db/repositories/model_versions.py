"""Creation of model versions by training runs (listing, renaming and deleting belong to the inference side)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from llm_trainer.db.models import ModelVersion


def create_version(session: Session, **fields: Any) -> ModelVersion:
    """Insert a version row and flush it so its id is known (the folder is named after it)."""
    version = ModelVersion(**fields)
    session.add(version)
    session.flush()
    return version


def versions_of_run(session: Session, run_id: int) -> list[ModelVersion]:
    stmt = select(ModelVersion).where(ModelVersion.run_id == run_id).order_by(ModelVersion.id)
    return list(session.scalars(stmt))

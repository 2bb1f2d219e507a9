"""Queries for datasets and their rows: batched inserts, paging with filters, training rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from llm_trainer.db.models import Dataset, DatasetRow


def training_rows(session: Session, dataset_id: int) -> list[tuple[str, str, str | None]]:
    """(text, label, split) of the rows usable for training (conflicts excluded), in file order."""
    stmt = (
        select(DatasetRow.text, DatasetRow.label, DatasetRow.split)
        .where(DatasetRow.dataset_id == dataset_id, DatasetRow.conflict.is_(False))
        .order_by(DatasetRow.idx)
    )
    return [(t, lbl, s) for t, lbl, s in session.execute(stmt)]

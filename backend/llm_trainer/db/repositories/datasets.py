"""Queries for datasets and their rows: batched inserts, paging with filters, training rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.models import Dataset, DatasetRow, Run

ACTIVE_RUN_STATUSES = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.STOPPING.value)


def training_rows(session: Session, dataset_id: int) -> list[tuple[str, str, str | None]]:
    """(text, label, split) of the rows usable for training (conflicts excluded), in file order."""
    stmt = (
        select(DatasetRow.text, DatasetRow.label, DatasetRow.split)
        .where(DatasetRow.dataset_id == dataset_id, DatasetRow.conflict.is_(False))
        .order_by(DatasetRow.idx)
    )
    return [(t, lbl, s) for t, lbl, s in session.execute(stmt)]


def task_rows(session: Session, dataset_id: int) -> list[tuple[str, str, str | None, str | None, Any]]:
    """(text, label, split, text_b, annotation) of the trainable rows (conflicts excluded), in file order."""
    stmt = (
        select(DatasetRow.text, DatasetRow.label, DatasetRow.split, DatasetRow.text_b, DatasetRow.annotation)
        .where(DatasetRow.dataset_id == dataset_id, DatasetRow.conflict.is_(False))
        .order_by(DatasetRow.idx)
    )
    return [tuple(row) for row in session.execute(stmt)]


def add_dataset(session: Session, **fields: Any) -> Dataset:
    """Insert a dataset and flush so its id exists for the rows that follow."""
    dataset = Dataset(**fields)
    session.add(dataset)
    session.flush()
    return dataset


def insert_rows(session: Session, dataset_id: int, rows: Sequence[tuple]) -> None:
    """Insert (idx, text, label, split, conflict[, text_b, annotation JSON]) tuples with one executemany."""
    if not rows:
        return
    # dataset_id is an int from the database, so inlining it is safe and spares building a tuple per row.
    columns = ["idx", "text", "label", "split", "conflict", "text_b", "annotation"][: len(rows[0])]
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"  # SQLite vs PostgreSQL drivers
    sql = (
        f"INSERT INTO dataset_rows (dataset_id, {', '.join(columns)}) "
        f"VALUES ({int(dataset_id)}, {', '.join([mark] * len(columns))})"
    )
    connection.exec_driver_sql(sql, rows)


def mark_conflicts(session: Session, dataset_id: int, idxs: Sequence[int]) -> None:
    """Flag rows (by file idx) whose text turned out to carry another label further down the file."""
    for start in range(0, len(idxs), 500):
        session.execute(
            update(DatasetRow)
            .where(DatasetRow.dataset_id == dataset_id, DatasetRow.idx.in_(idxs[start : start + 500]))
            .values(conflict=True)
        )


def get_dataset(session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def list_datasets(session: Session) -> list[Dataset]:
    """All datasets, newest first."""
    return list(session.scalars(select(Dataset).order_by(Dataset.created_at.desc(), Dataset.id.desc())))


def delete_dataset(session: Session, dataset: Dataset) -> None:
    """Delete a dataset; its rows go with it (explicit delete: faster than the ORM loading them for cascade)."""
    session.execute(delete(DatasetRow).where(DatasetRow.dataset_id == dataset.id))
    session.delete(dataset)
    session.flush()


def active_run_ids(session: Session, dataset_id: int) -> list[int]:
    """Runs that are queued or running on this dataset (it must not disappear under them)."""
    stmt = select(Run.id).where(Run.dataset_id == dataset_id, Run.status.in_(ACTIVE_RUN_STATUSES))
    return list(session.scalars(stmt))


def _filtered(
    stmt: Select, dataset_id: int, *, label: str | None, q: str | None, split: str | None, conflict: bool | None
) -> Select:
    stmt = stmt.where(DatasetRow.dataset_id == dataset_id)
    if label is not None:
        stmt = stmt.where(DatasetRow.label == label)
    if split is not None:
        stmt = stmt.where(DatasetRow.split.is_(None) if split == "" else DatasetRow.split == split)
    if conflict is not None:
        stmt = stmt.where(DatasetRow.conflict.is_(conflict))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(DatasetRow.text.like(f"%{escaped}%", escape="\\"))
    return stmt


def page_rows(
    session: Session,
    dataset_id: int,
    *,
    offset: int,
    limit: int,
    label: str | None = None,
    q: str | None = None,
    split: str | None = None,
    conflict: bool | None = None,
) -> tuple[list[DatasetRow], int]:
    """One page of rows in file order plus the total matching the same filters."""
    filters = {"label": label, "q": q, "split": split, "conflict": conflict}
    total = session.scalar(_filtered(select(func.count(DatasetRow.id)), dataset_id, **filters)) or 0
    stmt = _filtered(select(DatasetRow), dataset_id, **filters).order_by(DatasetRow.idx).offset(offset).limit(limit)
    return list(session.scalars(stmt)), total


def split_label_counts(session: Session, dataset_id: int) -> list[tuple[str | None, str, bool, int]]:
    """(split, label, conflict, rows) groups: the per-split class balance a user checks before training."""
    stmt = (
        select(DatasetRow.split, DatasetRow.label, DatasetRow.conflict, func.count())
        .where(DatasetRow.dataset_id == dataset_id)
        .group_by(DatasetRow.split, DatasetRow.label, DatasetRow.conflict)
    )
    return [(s, lbl, bool(c), n) for s, lbl, c, n in session.execute(stmt)]

"""Dataset use cases: create from an uploaded file, list, get, preview rows, stats, update, delete."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import Conflict, InvalidInput, NotFound
from llm_trainer.core.tasks import TaskDetection, TaskKind
from llm_trainer.datafiles import limits
from llm_trainer.datafiles.columns import SPLITS
from llm_trainer.datafiles.validate import issue
from llm_trainer.db.models import Dataset, DatasetRow
from llm_trainer.db.repositories import datasets as repo
from llm_trainer.ml.tasks.registry import detect_task, get_spec
from llm_trainer.ml.tasks.spec import RowValidator

log = logging.getLogger(__name__)

INCOMING_DIR = ".incoming"  # under uploads_dir: files still arriving or being ingested
AUTO_TASK = "auto"  # the upload's `task` when the file's layout should choose it (as does no task at all)
# Refusals that mean "not this task's layout" (not "too little to train"): the detected task is then suggested.
LAYOUT_ERRORS = {"missing_columns", "malformed_file", "empty_dataset"}


@dataclass
class RowsPage:
    items: list[DatasetRow]
    total: int
    page: int
    page_size: int


def incoming_dir(settings: Settings) -> Path:
    """Where uploads land before they belong to a dataset (same disk, so the final move is a rename)."""
    return settings.uploads_dir / INCOMING_DIR


def create_from_upload(
    session: Session,
    settings: Settings,
    path: Path,
    filename: str,
    *,
    name: str | None = None,
    description: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    task: str | None = None,
    columns: dict[str, str | None] | None = None,
) -> Dataset:
    """Read, validate and store an uploaded file as a dataset of `task`, all or nothing.

    Without a task (or "auto") the file's layout chooses it (classification when none is recognised); a task that
    differs from the layout is obeyed with a report warning, and when it cannot read the file the refusal names the
    detected task. `columns` holds explicit choices for the task's other column roles (e.g. `text_b`). The file at
    `path` is owned by this call: it ends up in uploads_dir/<id>/ or is deleted.
    """
    started = time.perf_counter()
    final_dir: Path | None = None
    try:
        caps = limits.ReadLimits.from_settings(settings)
        with limits.applied(caps):
            detection = detect_task(path, filename)
            asked = None if task in (None, "", AUTO_TASK) else get_spec(task).kind
            spec = get_spec(asked or detection.task)
            roles = {**(columns or {}), "text": text_column, "label": label_column}
            try:
                ingest = spec.open_ingest(path, filename, roles)
            except InvalidInput as exc:
                _suggest_detected(exc, detection, spec.kind)
                raise
            validator = ingest.validator
            dataset = repo.add_dataset(
                session,
                name=_clean_name(name) or Path(filename).stem[:200] or "dataset",
                description=(description or "").strip(),
                task=spec.kind.value,
                filename=filename,
                file_format=ingest.file_format,
                encoding=ingest.encoding,
                text_column=ingest.columns.get("text") or "",
                label_column=ingest.columns.get("label") or "",
            )
            try:
                _ingest(session, dataset.id, ingest.records, validator, settings.insert_batch_size)
                report = validator.finish()
            except InvalidInput as exc:
                _suggest_detected(exc, detection, spec.kind)
                raise
            repo.mark_conflicts(session, dataset.id, validator.conflict_first_idxs)
            report["task"] = spec.kind.value
            report["source"] = ingest.source
            _record_detection(report, detection, asked)
        _report_read_fixes(report, caps)
        report["ingest_seconds"] = round(time.perf_counter() - started, 3)
        dataset.rows_read = report["rows_read"]
        dataset.row_count = report["rows_kept"]
        dataset.labels = report["label_counts"]
        dataset.report = report
        dataset.content_hash = validator.content_hash
        final_dir = settings.uploads_dir / str(dataset.id)
        shutil.rmtree(final_dir, ignore_errors=True)  # SQLite may reuse the id of a deleted dataset
        final_dir.mkdir(parents=True)
        path.replace(final_dir / _safe_filename(filename))
        session.commit()
    except BaseException:
        session.rollback()
        path.unlink(missing_ok=True)
        if final_dir is not None:
            shutil.rmtree(final_dir, ignore_errors=True)
        raise
    log.info("dataset %s: %s rows stored in %.2fs", dataset.id, dataset.row_count, report["ingest_seconds"])
    return dataset


def _suggest_detected(exc: InvalidInput, detection: TaskDetection, tried: TaskKind) -> None:
    """Name the task the file looks like in a refusal that says the file is not in `tried`'s layout."""
    if exc.code not in LAYOUT_ERRORS or detection.task in (None, tried):
        return
    exc.message = (
        f"{exc.message} This file looks like {detection.task} data ({', '.join(detection.evidence)}): upload it "
        f"with task '{detection.task}', or without a task to have its layout choose one."
    )
    exc.args = (exc.message,)
    exc.details = {**exc.details, "suggested_task": detection.task.value, "evidence": detection.evidence}


def _record_detection(report: dict[str, Any], detection: TaskDetection, asked: TaskKind | None) -> None:
    """Store what the layout showed; warn when the uploader's task differs from it."""
    report["task_detection"] = detection.model_copy(update={"asked": asked}).model_dump(mode="json")
    if asked is None or detection.task in (None, asked):
        return
    report.setdefault("warnings", []).append(
        issue(
            "task_looks_different",
            f"This file looks like {detection.task} data ({', '.join(detection.evidence)}) but was uploaded as "
            f"{asked}. If that was a slip, delete this dataset and upload the file again as {detection.task}.",
            task=detection.task.value,
            asked=asked.value,
            evidence=detection.evidence,
        )
    )


def _ingest(session: Session, dataset_id: int, rows: Any, validator: RowValidator, batch_size: int) -> None:
    """Clean rows as they stream from the file and insert them in batches (the hot loop of an upload)."""
    add = validator.add
    batch: list[Any] = []
    append = batch.append
    for cells in rows:
        row = add(cells)
        if row is not None:
            append(row)
            if len(batch) >= batch_size:
                repo.insert_rows(session, dataset_id, batch)
                batch.clear()
    repo.insert_rows(session, dataset_id, batch)


def list_datasets(session: Session) -> list[Dataset]:
    return repo.list_datasets(session)


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    dataset = repo.get_dataset(session, dataset_id)
    if dataset is None:
        raise NotFound(
            f"Dataset {dataset_id} does not exist. List datasets with GET /api/datasets.",
            code="dataset_not_found",
            details={"dataset_id": dataset_id},
        )
    return dataset


def update_dataset(
    session: Session, dataset_id: int, *, name: str | None = None, description: str | None = None
) -> Dataset:
    """Rename and/or re-describe a dataset; its rows never change after upload."""
    dataset = get_dataset(session, dataset_id)
    if name is not None:
        cleaned = _clean_name(name)
        if not cleaned:
            raise InvalidInput("A dataset name cannot be empty.", code="invalid_name")
        dataset.name = cleaned
    if description is not None:
        dataset.description = description.strip()
    session.flush()
    return dataset


def delete_dataset(session: Session, settings: Settings, dataset_id: int) -> None:
    """Delete a dataset, its rows and its uploaded file; refused while a run still needs it."""
    dataset = get_dataset(session, dataset_id)
    runs = repo.active_run_ids(session, dataset_id)
    if runs:
        raise Conflict(
            f"Dataset {dataset_id} is used by queued or running training run(s) {runs}. Stop them first.",
            code="dataset_in_use",
            details={"run_ids": runs},
        )
    repo.delete_dataset(session, dataset)
    session.commit()
    shutil.rmtree(settings.uploads_dir / str(dataset_id), ignore_errors=True)


def preview_rows(
    session: Session,
    dataset_id: int,
    *,
    page: int = 1,
    page_size: int = 50,
    label: str | None = None,
    q: str | None = None,
    split: str | None = None,
    conflict: bool | None = None,
) -> RowsPage:
    """A page of rows in file order, filtered by label / split / conflict and searched by substring `q`."""
    get_dataset(session, dataset_id)
    if split is not None and split not in (*SPLITS, ""):
        raise InvalidInput(
            f"Unknown split '{split}'. Use one of {', '.join(SPLITS)} (or empty for rows without a split).",
            code="invalid_split",
        )
    items, total = repo.page_rows(
        session,
        dataset_id,
        offset=(page - 1) * page_size,
        limit=page_size,
        label=label,
        q=q.strip() if q and q.strip() else None,
        split=split,
        conflict=conflict,
    )
    return RowsPage(items=items, total=total, page=page, page_size=page_size)


def dataset_stats(session: Session, dataset_id: int) -> dict[str, Any]:
    """Label balance overall and per split, text lengths and warnings: what to check before training."""
    dataset = get_dataset(session, dataset_id)
    per_split: dict[str, dict[str, int]] = {}
    conflict_rows = 0
    for split, label, conflict, n in repo.split_label_counts(session, dataset_id):
        if conflict:
            conflict_rows += n
            continue
        bucket = per_split.setdefault(split or "unassigned", {})
        bucket[label] = bucket.get(label, 0) + n
    report = dataset.report or {}
    return {
        "dataset_id": dataset.id,
        "rows_read": dataset.rows_read,
        "row_count": dataset.row_count,
        "trainable_rows": dataset.row_count - conflict_rows,
        "conflict_rows": conflict_rows,
        "label_counts": dataset.labels,
        "split_label_counts": per_split,
        "text_length": report.get("text_length", {}),
        "warnings": report.get("warnings", []),
    }


def _report_read_fixes(report: dict[str, Any], caps: limits.ReadLimits) -> None:
    """What the reader changed to stay within the caps: counted in the report and named in its warnings."""
    report["texts_cut"], report["nul_cells_cleaned"] = caps.cut_texts, caps.nul_cells
    if caps.cut_texts:
        report.setdefault("warnings", []).append(
            issue(
                "texts_cut",
                f"{caps.cut_texts} texts were longer than {caps.max_text_chars:,} characters and were cut "
                "(LLM_TRAINER_MAX_TEXT_CHARS).",
                count=caps.cut_texts,
                max_text_chars=caps.max_text_chars,
            )
        )
    if caps.nul_cells:
        report.setdefault("warnings", []).append(
            issue("nul_removed", f"NUL bytes were removed from {caps.nul_cells} cells.", count=caps.nul_cells)
        )


def _clean_name(name: str | None) -> str:
    return " ".join((name or "").split())[:200]


def _safe_filename(filename: str) -> str:
    """The user's name, made safe for disk: no folders, no NULs, at most 200 bytes (the extension kept)."""
    name = Path(filename.replace("\\", "/").replace("\x00", "")).name
    if name in ("", ".", ".."):
        return "upload"
    stem, suffix = Path(name).stem, Path(name).suffix[:16]
    while len((stem + suffix).encode()) > 200:
        stem = stem[:-1]
    return (stem or "upload") + suffix

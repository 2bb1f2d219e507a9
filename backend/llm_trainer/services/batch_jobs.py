"""Whole-file prediction: upload CSV/XLSX/TSV/JSONL -> background job with progress -> CSV with the rows plus the
answer cells of the version's task (its TaskSpec's file_* methods), and scores when the file has labels."""

from __future__ import annotations

import csv
import logging
import shutil
import uuid
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from llm_trainer.core.errors import Conflict, InvalidInput, NotFound, Stopping
from llm_trainer.core.jobs import BatchPredictParams, JobKind, JobResult, JobStatus
from llm_trainer.core.run_status import RunPhase
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import BatchJob, Job
from llm_trainer.db.repositories import batch_jobs as batch_repo
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.tasks.spec import TaskSpec
from llm_trainer.services.jobs import JobContext, JobDispatcher
from llm_trainer.services.serving import Serving, check_variant, find_version, loaded_model

log = logging.getLogger(__name__)
CHUNK_TEXTS = 256  # texts per batcher call: progress updates stay frequent and live requests can interleave
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
COLUMN_SUFFIX = "_column"  # job params name each role's column "<role>_column" (text_column, text_b_column...)


def neutralise(cell: str) -> str:
    """Spreadsheet apps run cells starting with = + - @ as formulas; a leading apostrophe keeps them plain text."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def start_job(
    serving: Serving,
    source: Path,
    filename: str,
    model_id: int | None = None,
    variant: str | None = None,
    columns: dict[str, str | None] | None = None,
    *,
    keep_source: bool = False,
) -> BatchJob:
    """Take the received file (moved, or copied with keep_source), check columns and model, queue the job.
    `columns`: explicit role -> column names ("text", "text_b", "label"); the version's task guesses the rest."""
    from llm_trainer.datafiles.reader import open_table

    folder = serving.settings.uploads_dir / "batch" / uuid.uuid4().hex
    try:
        folder.mkdir(parents=True)
        path = folder / ("input" + Path(filename or "upload.csv").suffix.lower())
        (shutil.copyfile if keep_source else shutil.move)(source, path)
        table = open_table(path, filename)
        with session_scope(serving.session_factory) as session:
            version = find_version(session, model_id)
            spec = _check_task(version.task)
            roles = spec.file_columns(table.columns, columns or {})
            chosen = check_variant(version, variant)
            params = {**{f"{role}{COLUMN_SUFFIX}": column for role, column in roles.items()}, "variant": chosen}
            job = batch_repo.create_job(
                session, model_id=version.id, filename=filename, input_path=str(path),
                status=JobStatus.QUEUED.value, metrics=params,
            )  # fmt: skip
            jobs_repo.submit(
                session, JobKind.BATCH_PREDICT,
                BatchPredictParams(batch_job_id=job.id, model_id=version.id, input_path=str(path)),
            )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a refused upload leaves nothing behind
        if not keep_source:
            Path(source).unlink(missing_ok=True)
        raise
    serving.notify_jobs()
    return job


def _check_task(task: str) -> TaskSpec:
    """The version's task spec, if its answers fit table cells (every encoder task's do)."""
    spec = get_spec(task)
    if not spec.file_prediction:
        raise InvalidInput(
            f"File prediction is not available for this version's task '{task}'. Send its inputs to "
            "POST /api/predict instead (up to the per-call limit).",
            code="batch_task_unsupported",
            details={"task": task},
        )
    return spec


def mirror_status(session: Session, job: Job) -> None:
    """The batch row shows its job's status (the dispatcher's `on_end` hook): re-queued jobs start from row 0."""
    batch_id = BatchPredictParams.model_validate(job.params).batch_job_id
    fields: dict[str, Any] = {"status": job.status, "error_message": job.error_message}
    if job.status == JobStatus.QUEUED.value:
        fields.update(done=0, finished_at=None, error_message="")
    elif JobStatus(job.status).is_terminal:
        fields["finished_at"] = job.finished_at
    batch_repo.set_progress(session, batch_id, **fields)


def run_here(serving: Serving, batch_job_id: int) -> None:
    """Run a queued batch job in this thread (the CLI's file prediction, which has no server)."""
    dispatcher = JobDispatcher(serving.settings, serving.session_factory, only_runs=set())
    dispatcher.register(JobKind.BATCH_PREDICT, partial(run_job, serving), mirror_status)
    with session_scope(serving.session_factory) as session:
        [job] = jobs_repo.of_kind_where(session, JobKind.BATCH_PREDICT, "batch_job_id", batch_job_id)
    dispatcher.run_now(job.id)


def get_job(serving: Serving, job_id: int) -> BatchJob:
    with session_scope(serving.session_factory) as session:
        job = batch_repo.get_job(session, job_id)
    if job is None:
        raise NotFound(f"Batch job {job_id} does not exist.", code="batch_job_not_found")
    return job


def list_jobs(serving: Serving) -> list[BatchJob]:
    with session_scope(serving.session_factory) as session:
        return batch_repo.list_jobs(session)


def result_file(serving: Serving, job_id: int) -> tuple[Path, str]:
    """(CSV path, download name) of a finished job; 409 while it still runs."""
    job = get_job(serving, job_id)
    if job.status != JobStatus.SUCCEEDED.value:
        raise Conflict(
            f"Batch job {job_id} is {job.status}; its file can be downloaded once it has succeeded.",
            code="batch_job_not_done",
            details={"status": job.status},
        )
    return Path(job.output_path), f"{Path(job.filename).stem or 'predictions'}-predictions.csv"


def run_job(serving: Serving, ctx: JobContext) -> JobResult:
    """The dispatcher's handler: streams the file twice (count, then predict chunk by chunk), so a million rows
    never sit in memory; beats once per chunk."""
    from llm_trainer.datafiles.reader import open_table

    job_id = ctx.params.batch_job_id
    with session_scope(serving.session_factory) as session:
        job = batch_repo.get_job(session, job_id)
        if job is None:
            raise NotFound(f"Batch job {job_id} was deleted before it ran.", code="batch_job_not_found")
        batch_repo.set_progress(session, job_id, status=JobStatus.RUNNING.value, done=0, error_message="")
        version = find_version(session, job.model_id)
    params = dict(job.metrics)
    spec = get_spec(version.task)
    table = open_table(Path(job.input_path), job.filename)
    chosen = {key.removesuffix(COLUMN_SUFFIX): v for key, v in params.items() if key.endswith(COLUMN_SUFFIX)}
    index = {role: table.columns.index(c) for role, c in spec.file_columns(table.columns, chosen).items() if c}
    total = sum(1 for _ in table.rows())
    with session_scope(serving.session_factory) as session:
        batch_repo.set_progress(session, job_id, total=total)
    ctx.beat(0, total, RunPhase.LOADING_MODEL)

    entry, _ = loaded_model(serving, version, params["variant"])
    labels = list(entry.predictor.labels)
    extra_columns = _unique(spec.file_output_columns(labels), table.columns)
    max_chars = serving.settings.predict_max_chars
    output = Path(job.input_path).with_name("predictions.csv")
    partial = output.with_suffix(".partial")
    labelled: list[tuple[str, str]] = []  # (file label, prediction) for the score; two short strings per row
    done = 0
    try:
        with partial.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel shows Chinese
            writer = csv.writer(f)
            writer.writerow([neutralise(c) for c in [*table.columns, *extra_columns]])
            rows_iter = table.rows()
            while chunk := list(islice(rows_iter, CHUNK_TEXTS)):
                if ctx.stopping.is_set():  # the server shuts down: the next start predicts the file again
                    raise Stopping
                rows = [row + [""] * (len(table.columns) - len(row)) for row in chunk]
                answers = _predict_chunk(spec, entry, rows, index, max_chars)
                blank = [""] * len(extra_columns)
                writer.writerows(
                    [neutralise(c) for c in [*row, *(blank if a is None else spec.file_cells(a, labels))]]
                    for row, a in zip(rows, answers, strict=True)
                )
                labelled += _labelled(rows, answers, index.get("label"))
                done += len(rows)

                def counted(session: Session, n: int = done) -> None:  # written in the beat's transaction
                    batch_repo.set_progress(session, job_id, done=n)

                if not ctx.beat(done, total, "predicting", also=counted):
                    raise Conflict(f"Batch job {job_id} was taken away from this process.", code="job_lost")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    metrics = params | _score(labelled, labels)
    with session_scope(serving.session_factory) as session:
        batch_repo.set_progress(session, job_id, done=done, output_path=str(output), metrics=metrics)
    return JobResult(output_path=str(output), metrics={"rows": float(done)})


def _unique(names: list[str], taken: list[str]) -> list[str]:
    """Output column names that do not repeat an input column (a labelled NER file has its own `entities`)."""
    out = []
    for name in names:
        while name in taken or name in out:
            name = "predicted_" + name
        out.append(name)
    return out


def _predict_chunk(
    spec: TaskSpec, entry: Any, rows: list[list[str]], index: dict[str, int], max_chars: int
) -> list[Any | None]:
    """The task's answer per row; None for blank rows (they get blank cells)."""
    inputs = [spec.file_input({role: row[i] for role, i in index.items()}, max_chars) for row in rows]
    answers: list[Any | None] = [None] * len(rows)
    todo = [i for i, x in enumerate(inputs) if x is not None]
    for i, answer in zip(todo, entry.batcher.predict([inputs[i] for i in todo]), strict=True):
        answers[i] = answer
    return answers


def _labelled(rows: list[list[str]], answers: list[Any | None], label_index: int | None) -> list[tuple[str, str]]:
    """(normalised file label, predicted label) of rows that have both."""
    if label_index is None:
        return []
    from llm_trainer.datafiles.validate import normalize_label

    return [
        (normalize_label(row[label_index]), answer.label)
        for row, answer in zip(rows, answers, strict=True)
        if row[label_index].strip() and answer is not None and answer.label
    ]


def _score(labelled: list[tuple[str, str]], labels: list[str]) -> dict[str, Any]:
    """Accuracy and F1 against the file's label column, over rows that had both a label and a prediction."""
    if not labelled:
        return {}
    from llm_trainer.ml.training.evaluation import classification_metrics

    y_true, y_pred = zip(*labelled, strict=True)
    return {"evaluation": classification_metrics(list(y_true), list(y_pred), labels)}

"""One run from start to model version: read rows, train (transformer or TF-IDF), evaluate, save, record status."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings, get_settings
from llm_trainer.core.jobs import ExportParams, JobKind, JobResult
from llm_trainer.core.run_status import RunPhase, RunStatus
from llm_trainer.core.variants import ServingVariant, blend_score, is_offered
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.models import Dataset, Run
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import model_versions as versions_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.db.repositories.datasets import task_rows
from llm_trainer.ml.base_models.hub import download_limit
from llm_trainer.ml.inference.loading import ONNX
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.tasks.spec import ModelJob, TaskRow
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.tracking import MlflowRun, mlflow_run
from llm_trainer.ml.version_store import folder_size, publish, staged_version, version_folder
from llm_trainer.services.job_records import move_run
from llm_trainer.worker.launch import PARENT_PID_ENV, job_of_env, log_path, tail
from llm_trainer.worker.reporter import (
    DbReporter,
    NullReporter,
    install_sigterm,
    start_parent_watchdog,
    start_system_sampler,
)

log = logging.getLogger("llm_trainer.worker")

TFIDF = "tfidf"
MLFLOW_ARTIFACTS = "mlflow-artifacts"  # artifacts of experiments in a local MLflow store (sqlite:, file:)


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )


def _load(factory: sessionmaker[Session], run_id: int) -> tuple[Run, Dataset | None, list]:
    with session_scope(factory) as session:
        run = runs_repo.get_run(session, run_id)
        if run is None:
            raise LookupError(f"run {run_id} does not exist")
        dataset = session.get(Dataset, run.dataset_id) if run.dataset_id else None
        rows = [TaskRow(*r) for r in task_rows(session, run.dataset_id)] if run.dataset_id else []
        session.expunge_all()
    return run, dataset, rows


def _save_version(
    factory: sessionmaker[Session],
    settings: Settings,
    run: Run,
    dataset: Dataset | None,
    *,
    kind: str,
    status: str,
    labels: list[str],
    metrics: dict[str, Any],
    max_length: int | None,
    device: str,
    duration_s: float,
    write_files: Any,
    manifest_extra: dict[str, Any] | None = None,
    fast_serving: bool = False,
) -> int:
    """Write the version folder (via `write_files(folder)`, which may return the version's `exports` record) and its
    row together; nothing half-written survives. With `fast_serving` the ONNX export job is queued in the row's
    own transaction: a version that wants its fast copy never exists without the job that builds it."""
    created = datetime.now(UTC)
    lineage = {
        "run_id": run.id,
        "dataset_id": run.dataset_id,
        "dataset_hash": dataset.content_hash if dataset else "",
        "base_model": run.base_model,
        "device": device,
        "duration_s": round(duration_s, 1),
        "created_at": created.isoformat(),
    }
    meta = {
        "task": run.task,
        "kind": kind,
        "labels": labels,
        "base_model": run.base_model,
        "max_length": max_length,
        "metrics": metrics,
        "training_config": run.config,
        "lineage": lineage,
        **(manifest_extra or {}),
    }
    with staged_version(settings.models_dir, str(run.id), meta) as tmp:
        exports = write_files(tmp) or {}
        published: Path | None = None
        try:
            with session_scope(factory) as session:
                version = versions_repo.create_version(
                    session,
                    name=run.name or f"{run.base_model} · run {run.id}",
                    run_id=run.id,
                    dataset_id=run.dataset_id,
                    task=run.task,
                    kind=kind,
                    base_model=run.base_model,
                    status=status,
                    path="",
                    labels=labels,
                    metrics=metrics,
                    config=run.config,
                    lineage=lineage,
                    exports=exports,
                    size_bytes=folder_size(tmp),
                    created_at=created,
                )
                # Renamed before the row commits: a crash in between leaves a folder without a row (swept at start).
                published = publish(tmp, version_folder(settings.models_dir, version.id))
                version.path = str(published)
                version_id = version.id
                if fast_serving:
                    params = ExportParams(version_id=version_id, variant=ONNX, fast_serving=True)
                    jobs_repo.submit(session, JobKind.EXPORT, params)
        except BaseException:
            if published is not None:  # its row did not commit: the folder must not outlive it
                shutil.rmtree(published, ignore_errors=True)
            raise
        return version_id


def baseline_verdict(spec: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """The baseline's primary metric and whether the version beats it on validation (the run page says so)."""
    value, base = metrics.get(spec.primary_metric), (metrics.get("baseline") or {}).get(spec.primary_metric)
    if value is None or base is None:
        return {}
    return {"baseline": base, "beats_baseline": value > base if spec.primary_higher_is_better else value < base}


def one_answer_verdict(metrics: dict[str, Any]) -> dict[str, Any]:
    """Where the model gave nearly every validation text the same label (`answer_spread`): that label, its share, and
    the accuracy of always answering the most common label, for the run page and the CLI (a short run on a small or
    imbalanced set, often)."""
    if not metrics.get("one_answer"):
        return {}
    share, majority = metrics["top_answer"]["share"], metrics["majority_accuracy"]
    return {"one_answer": metrics["top_answer"]["label"], "one_answer_share": share, "majority_accuracy": majority}


def ensemble_verdict(spec: Any, kind: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """Where training found the blend with the baseline better: its primary metric, the baseline's weight, and whether
    the version answers with it by default (the CLI says so)."""
    if not is_offered(metrics):
        return {}
    record = metrics["ensemble"]
    return {
        "ensemble_value": blend_score(record, spec.primary_metric),
        "ensemble_weight": record.get("weight"),
        "ensemble_default": spec.default_variant(kind, metrics) == ServingVariant.ENSEMBLE,
    }


def _finish_status(
    factory: sessionmaker[Session],
    reporter: DbReporter | NullReporter,
    run_id: int,
    stopped: bool,
    version_id: int,
    **fields: Any,
) -> None:
    result = JobResult(version_id=version_id)
    with session_scope(factory) as session:
        reporter.write_pending(session)
        if stopped:
            move_run(session, run_id, RunStatus.STOPPING)  # SIGTERM-only stops arrive here as running
            move_run(session, run_id, RunStatus.STOPPED, result=result, **fields)
        elif not move_run(session, run_id, RunStatus.SUCCEEDED, result=result, **fields):
            log.warning("run %s could not be marked succeeded from its current status", run_id)


def execute(run_id: int, settings: Settings) -> int:
    """Train run `run_id`; every outcome, including crashes, ends up in its DB row. Returns the exit code."""
    factory = make_session_factory(make_engine(settings.database))
    is_main = int(os.environ.get("RANK", "0")) == 0
    reporter = DbReporter(factory, run_id, *job_of_env()) if is_main else NullReporter()
    install_sigterm(reporter)

    def _orphaned() -> None:
        if is_main:
            with session_scope(factory) as session:
                move_run(
                    session,
                    run_id,
                    RunStatus.INTERRUPTED,
                    error_message="The server that started this run exited; resume it to continue.",
                    finished_at=datetime.now(UTC),
                )

    parent = os.environ.get(PARENT_PID_ENV)
    start_parent_watchdog(int(parent) if parent else None, _orphaned)
    try:
        return _execute(run_id, settings, factory, reporter, is_main)
    except Exception as exc:  # noqa: BLE001 - everything becomes a readable `failed`
        log.error("run %s failed:\n%s", run_id, traceback.format_exc())
        if is_main:
            _record_failure(factory, settings, run_id, exc)
        return 1


def _record_failure(factory: sessionmaker[Session], settings: Settings, run_id: int, exc: Exception) -> None:
    for h in logging.getLogger().handlers:
        h.flush()
    message = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    status = RunStatus.FAILED
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:  # nothing wrong with the run: its checkpoints stay
        status = RunStatus.INTERRUPTED
        message = f"The disk is full ({message}). Free space in the data dir, then resume the run."
    with session_scope(factory) as session:
        move_run(
            session,
            run_id,
            status,
            error_message=message,
            log_tail=tail(log_path(settings.runs_dir, run_id)),
            finished_at=datetime.now(UTC),
        )


def _execute(run_id: int, settings: Settings, factory: sessionmaker[Session], reporter: Any, is_main: bool) -> int:
    run, dataset, rows = _load(factory, run_id)
    if is_main and run.status not in runs_repo.ACTIVE:
        log.warning("run %s is %s, not running: nothing to do", run_id, run.status)
        return 0
    if dataset is None:
        raise ValueError("the run's dataset no longer exists; start a new run with an existing dataset")
    config = TrainingConfig.model_validate(run.config)
    spec = get_spec(run.task)
    data = spec.prepare(rows, config)
    log.info(
        "run %s: %s %s on dataset %s (%d rows, %d validation, labels %s)",
        run_id, run.task, run.base_model, dataset.id, len(rows), data.val_size, data.labels,
    )  # fmt: skip
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every rank says who it is, in its own node's log
        log.info("run %s: rank %s of %s (node %s)", run_id, os.environ.get("RANK"), os.environ.get("WORLD_SIZE"),
                 os.environ.get("GROUP_RANK"))  # fmt: skip
    if is_main:
        start_system_sampler(reporter)
    tracking_uri = settings.mlflow_tracking_uri if is_main else ""
    params = {"run_id": run_id, "task": run.task, "base_model": run.base_model, "dataset_id": dataset.id, **run.config}
    tags = {"llm_trainer.run_id": str(run_id), "llm_trainer.task": str(run.task)}
    artifacts = settings.data_dir.resolve() / MLFLOW_ARTIFACTS
    with mlflow_run(tracking_uri, settings.mlflow_experiment, artifacts, f"run-{run_id}", params, tags) as tracked:
        saved = _train_and_save(run, dataset, spec, data, config, settings, factory, reporter, tracked)
    if saved is None:  # a non-main rank of a multi-process run: rank 0 saves and reports
        return 0
    trained, version_id = saved  # the MLflow run has ended before the run is shown finished
    stopped, metrics, primary = trained.stopped, trained.metrics, spec.primary_metric
    reporter.progress(
        {"phase": RunPhase.DONE, "model_version_id": version_id, "metric": primary, primary: metrics.get(primary),
         **baseline_verdict(spec, metrics), **ensemble_verdict(spec, trained.kind, metrics),
         **one_answer_verdict(metrics)}
    )  # fmt: skip
    _finish_status(factory, reporter, run_id, stopped, version_id, finished_at=datetime.now(UTC), device=trained.device)
    if not stopped:  # a succeeded run cannot be resumed: its checkpoints (weights + optimizer) only cost disk
        shutil.rmtree(settings.runs_dir / str(run_id) / "checkpoints", ignore_errors=True)
    outcome = RunStatus.STOPPED if stopped else RunStatus.SUCCEEDED
    log.info("run %s %s: version %s, %s %s", run_id, outcome, version_id, primary, metrics.get(primary))
    return 0


def _train_and_save(
    run: Run,
    dataset: Dataset,
    spec: Any,
    data: Any,
    config: TrainingConfig,
    settings: Settings,
    factory: sessionmaker[Session],
    reporter: Any,
    tracked: MlflowRun | None,
) -> tuple[Any, int] | None:
    """Train and save the version (logged to MLflow when tracked); None on ranks other than the main one."""
    run_id = run.id
    started = time.monotonic()

    if run.base_model == TFIDF:
        trained = spec.train_baseline(data, reporter)
    else:
        work_dir = settings.runs_dir / str(run_id)
        job = ModelJob(
            run.base_model,
            config,
            work_dir,
            settings.cache_dir,
            resume=run.resume_count > 0,
            mlflow=tracked is not None,
        )
        with download_limit(settings.hub_max_download_bytes):
            trained = spec.train_model(data, job, reporter)
        if not trained.is_main:
            return None
    stopped, metrics = trained.stopped, trained.metrics
    reporter.progress({"phase": RunPhase.SAVING})
    duration = time.monotonic() - started
    status = RunStatus.STOPPED.value if stopped else RunStatus.SUCCEEDED.value
    version_id = _save_version(
        factory, settings, run, dataset, kind=trained.kind, status=status, labels=trained.labels, metrics=metrics,
        max_length=trained.max_length, device=trained.device, duration_s=duration, write_files=trained.write_files,
        manifest_extra=trained.manifest_extra, fast_serving=trained.fast_serving,
    )  # fmt: skip
    if tracked:
        tracked.log_version(version_id, settings.models_dir / str(version_id), metrics, stopped)
    return trained, version_id


def main(argv: list[str]) -> int:
    _setup_logging()
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m llm_trainer.worker <run_id>", file=sys.stderr)
        return 2
    return execute(int(argv[0]), get_settings())

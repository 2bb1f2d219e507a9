"""One run from start to model version: read rows, train (transformer or TF-IDF), evaluate, save, record status."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings, get_settings
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.models import Dataset, Run
from llm_trainer.db.repositories import model_versions as versions_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.db.repositories.datasets import training_rows
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import Split, split_rows
from llm_trainer.ml.training.evaluation import evaluate_probabilities
from llm_trainer.worker.launch import PARENT_PID_ENV, log_path, tail
from llm_trainer.worker.reporter import (
    DbReporter,
    NullReporter,
    install_sigterm,
    start_parent_watchdog,
    start_system_sampler,
)

log = logging.getLogger("llm_trainer.worker")

TFIDF = "tfidf"
VERSION_META = "llm_trainer.json"


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
        rows = training_rows(session, run.dataset_id) if run.dataset_id else []
        session.expunge_all()
    return run, dataset, rows


def _baseline(split: Split) -> tuple[Any, dict[str, Any]]:
    """Train the TF-IDF baseline on the same split; returns (pipeline, full metrics from its probabilities)."""
    from llm_trainer.ml.baseline import train_baseline

    pipeline, _ = train_baseline(split.train_texts, split.train_labels, split.val_texts, split.val_labels)
    classes = [str(c) for c in pipeline.classes_]
    probs = pipeline.predict_proba(split.val_texts)
    order = [classes.index(label) if label in classes else None for label in split.labels]
    import numpy as np

    aligned = np.column_stack([probs[:, i] if i is not None else np.zeros(len(probs)) for i in order])
    return pipeline, evaluate_probabilities(split.val_texts, split.val_labels, aligned, split.labels)


def _baseline_summary(split: Split) -> dict[str, Any] | None:
    try:
        _, metrics = _baseline(split)
    except Exception as exc:  # noqa: BLE001 - the baseline is a comparison, never a reason to fail the run
        log.warning("TF-IDF baseline unavailable: %s", exc)
        return None
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "weighted_f1": metrics["weighted_f1"]}


def _folder_size(folder: Path) -> int:
    """The model's own size: exported copies (exports/) report theirs per variant, as exports built later do."""
    exports = folder / "exports"
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and exports not in p.parents)


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
) -> int:
    """Write the version folder (via `write_files(folder)`, which may return the version's `exports` record) and its
    row together; nothing half-written survives."""
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.models_dir / f".tmp-run{run.id}-{uuid.uuid4().hex[:8]}"
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
        "kind": kind,
        "labels": labels,
        "base_model": run.base_model,
        "max_length": max_length,
        "metrics": metrics,
        "training_config": run.config,
        "lineage": lineage,
    }
    try:
        # The manifest first: the fast-serving export inside write_files reads the version's max_length from it.
        tmp.mkdir(parents=True)
        (tmp / VERSION_META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        exports = write_files(tmp) or {}
        with session_scope(factory) as session:
            version = versions_repo.create_version(
                session,
                name=run.name or f"{run.base_model} · run {run.id}",
                run_id=run.id,
                dataset_id=run.dataset_id,
                kind=kind,
                base_model=run.base_model,
                status=status,
                path="",
                labels=labels,
                metrics=metrics,
                config=run.config,
                lineage=lineage,
                exports=exports,
                size_bytes=_folder_size(tmp),
                created_at=created,
            )
            final = settings.models_dir / str(version.id)
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            version.path = str(final.resolve())
            return version.id
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _train_tfidf(run: Run, split: Split, reporter: DbReporter) -> tuple[dict[str, Any], Any, float]:
    from llm_trainer.ml.baseline import save_baseline

    reporter.progress({"phase": "training", "step": 0, "total_steps": 1, "train_size": len(split.train_texts)})
    started = time.monotonic()
    pipeline, metrics = _baseline(split)
    duration = time.monotonic() - started
    reporter.metric("eval", 1, 1.0, {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]})
    reporter.progress({"phase": "saving", "step": 1, "epoch": 1.0, "elapsed_s": round(duration, 1)})

    def write_files(folder: Path) -> None:
        save_baseline(pipeline, folder)

    return metrics, write_files, duration


def _fast_serving(folder: Path, split: Split, val_probs: Any, reporter: Any) -> dict[str, Any]:
    """Build the ONNX copy the version will answer with when lossless; a failure only costs the speed-up."""
    from llm_trainer.ml.inference.export import failed_record, fast_serving_exports
    from llm_trainer.ml.inference.loading import ONNX

    reporter.progress({"phase": "exporting"})
    started = time.monotonic()
    try:
        exports = fast_serving_exports(folder, split.val_texts, split.val_labels, val_probs, split.labels)
    except Exception as exc:  # noqa: BLE001 - the version stays usable with PyTorch
        log.warning("ONNX copy for fast serving failed; the version answers with PyTorch:\n%s", traceback.format_exc())
        return {"variants": {ONNX: failed_record(exc)}}
    exports["variants"][ONNX]["build_seconds"] = round(time.monotonic() - started, 1)
    log.info(
        "ONNX copy built and compared in %.1f s; served with %s",
        time.monotonic() - started, exports.get("serving_variant", "pytorch (the copy's answers differ)"),
    )  # fmt: skip
    return exports


def _finish_status(factory: sessionmaker[Session], run_id: int, stopped: bool, **fields: Any) -> None:
    with session_scope(factory) as session:
        if stopped:
            runs_repo.transition(session, run_id, RunStatus.STOPPING)  # SIGTERM-only stops arrive here as running
            runs_repo.transition(session, run_id, RunStatus.STOPPED, **fields)
        elif not runs_repo.transition(session, run_id, RunStatus.SUCCEEDED, **fields):
            log.warning("run %s could not be marked succeeded from its current status", run_id)


def execute(run_id: int, settings: Settings) -> int:
    """Train run `run_id`; every outcome, including crashes, ends up in its DB row. Returns the exit code."""
    factory = make_session_factory(make_engine(settings.db_path))
    is_main = int(os.environ.get("RANK", "0")) == 0
    reporter = DbReporter(factory, run_id) if is_main else NullReporter()
    install_sigterm(reporter)

    def _orphaned() -> None:
        if is_main:
            with session_scope(factory) as session:
                runs_repo.transition(
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
    with session_scope(factory) as session:
        runs_repo.transition(
            session,
            run_id,
            RunStatus.FAILED,
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
    split = split_rows(rows, source=config.validation_source, ratio=config.validation_ratio, seed=config.seed)
    log.info(
        "run %s: %s on dataset %s (%d train / %d validation rows, labels %s)",
        run_id, run.base_model, dataset.id, len(split.train_texts), len(split.val_texts), split.labels,
    )  # fmt: skip
    if is_main:
        start_system_sampler(reporter)
    started = time.monotonic()

    if run.base_model == TFIDF:
        metrics, write_files, _ = _train_tfidf(run, split, reporter)
        stopped, max_length, device, kind = False, None, "cpu", "tfidf"
    else:
        from llm_trainer.ml.training.trainer import TrainJob, save_model_folder, train_transformer

        work_dir = settings.runs_dir / str(run_id)
        job = TrainJob(run.base_model, config, split, work_dir, settings.cache_dir, resume=run.resume_count > 0)
        outcome = train_transformer(job, reporter)
        if not outcome.is_main:
            return 0
        reporter.progress({"phase": "evaluating"})
        metrics = evaluate_probabilities(split.val_texts, split.val_labels, outcome.val_probs, split.labels)
        metrics.update(
            {
                "baseline": _baseline_summary(split),
                "max_length": outcome.max_length,
                "truncation_share": round(outcome.truncation_share, 4),
                "global_step": outcome.global_step,
                "resumed_from_step": outcome.resumed_from_step,
                "precision": outcome.precision,
                "train_seconds": round(outcome.train_seconds, 1),
            }
        )
        stopped, max_length, device, kind = outcome.stopped, outcome.max_length, outcome.device, "transformer"

        def write_files(folder: Path) -> dict[str, Any] | None:
            save_model_folder(outcome.model, outcome.tokenizer, folder)
            # Not after a stop: the user wants the run over, and a second stop (kill) during a long export would
            # lose the version; the copy can be built from the model page later.
            wanted = config.fast_serving and not outcome.stopped
            return _fast_serving(folder, split, outcome.val_probs, reporter) if wanted else None

    reporter.progress({"phase": "saving"})
    duration = time.monotonic() - started
    status = RunStatus.STOPPED.value if stopped else RunStatus.SUCCEEDED.value
    version_id = _save_version(
        factory, settings, run, dataset, kind=kind, status=status, labels=split.labels, metrics=metrics,
        max_length=max_length, device=device, duration_s=duration, write_files=write_files,
    )  # fmt: skip
    reporter.progress({"phase": "done", "model_version_id": version_id, "accuracy": metrics["accuracy"]})
    reporter.flush(force=True)
    _finish_status(factory, run_id, stopped, finished_at=datetime.now(UTC), device=device)
    if not stopped:  # a succeeded run cannot be resumed: its checkpoints (weights + optimizer) only cost disk
        shutil.rmtree(settings.runs_dir / str(run_id) / "checkpoints", ignore_errors=True)
    log.info("run %s %s: version %s, accuracy %.4f", run_id, status, version_id, metrics["accuracy"])
    return 0


def main(argv: list[str]) -> int:
    _setup_logging()
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m llm_trainer.worker <run_id>", file=sys.stderr)
        return 2
    return execute(int(argv[0]), get_settings())

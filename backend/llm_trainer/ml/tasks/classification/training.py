"""Single-label training: the TF-IDF baseline version and the fine-tuned transformer version with fast serving."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.ml.tasks.spec import ModelJob, TrainedVersion
from llm_trainer.ml.training.data import Split
from llm_trainer.ml.training.evaluation import evaluate_probabilities

log = logging.getLogger("llm_trainer.worker")


def default_fit(split: Split) -> Any:
    """The char 1-3-gram TF-IDF + logistic regression pipeline, fitted on the training split."""
    from llm_trainer.ml.baseline import train_baseline

    return train_baseline(split.train_texts, split.train_labels)[0]


def baseline(split: Split, fit: Callable[[Split], Any] = default_fit) -> tuple[Any, dict[str, Any]]:
    """Train the classical baseline on the same split; returns (pipeline, full metrics from its probabilities)."""
    pipeline = fit(split)
    classes = [str(c) for c in pipeline.classes_]
    probs = pipeline.predict_proba(split.val_texts)
    order = [classes.index(label) if label in classes else None for label in split.labels]
    aligned = np.column_stack([probs[:, i] if i is not None else np.zeros(len(probs)) for i in order])
    return pipeline, evaluate_probabilities(split.val_texts, split.val_labels, aligned, split.labels)


def baseline_summary(split: Split, fit: Callable[[Split], Any] = default_fit) -> dict[str, Any] | None:
    try:
        _, metrics = baseline(split, fit)
    except Exception as exc:  # noqa: BLE001 - the baseline is a comparison, never a reason to fail the run
        log.warning("TF-IDF baseline unavailable: %s", exc)
        return None
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "weighted_f1": metrics["weighted_f1"]}


def train_tfidf(split: Split, reporter: Any, fit: Callable[[Split], Any] = default_fit) -> TrainedVersion:
    from llm_trainer.ml.baseline import save_baseline

    reporter.progress({"phase": "training", "step": 0, "total_steps": 1, "train_size": len(split.train_texts)})
    started = time.monotonic()
    pipeline, metrics = baseline(split, fit)
    duration = time.monotonic() - started
    reporter.metric("eval", 1, 1.0, {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]})
    reporter.progress({"phase": "saving", "step": 1, "epoch": 1.0, "elapsed_s": round(duration, 1)})

    def write_files(folder: Path) -> None:
        save_baseline(pipeline, folder)

    return TrainedVersion(kind="tfidf", labels=split.labels, metrics=metrics, write_files=write_files)


def fast_serving(folder: Path, split: Split, val_probs: Any, reporter: Any) -> dict[str, Any]:
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


def train_transformer_version(
    split: Split, job: ModelJob, reporter: Any, fit: Callable[[Split], Any] = default_fit
) -> TrainedVersion:
    from llm_trainer.ml.training.trainer import TrainJob, save_model_folder, train_transformer

    config = job.config
    outcome = train_transformer(
        TrainJob(job.base_model, config, split, job.work_dir, job.cache_dir, resume=job.resume, mlflow=job.mlflow),
        reporter,
    )
    if not outcome.is_main:
        return TrainedVersion(kind="transformer", labels=split.labels, metrics={}, write_files=lambda _: None,
                              is_main=False)  # fmt: skip
    reporter.progress({"phase": "evaluating"})
    metrics = evaluate_probabilities(split.val_texts, split.val_labels, outcome.val_probs, split.labels)
    metrics.update({"baseline": baseline_summary(split, fit), **outcome.run_facts()})

    def write_files(folder: Path) -> dict[str, Any] | None:
        save_model_folder(outcome.model, outcome.tokenizer, folder)
        # Not after a stop: the user wants the run over, and a second stop (kill) during a long export would
        # lose the version; the copy can be built from the model page later.
        wanted = config.fast_serving and not outcome.stopped
        return fast_serving(folder, split, outcome.val_probs, reporter) if wanted else None

    return TrainedVersion(
        kind="transformer",
        labels=split.labels,
        metrics=metrics,
        write_files=write_files,
        max_length=outcome.max_length,
        device=outcome.device,
        stopped=outcome.stopped,
    )

"""Single-label training: the TF-IDF baseline version and the fine-tuned transformer version (whose fast-serving
copy an export job builds after the save)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.run_status import RunPhase
from llm_trainer.ml.ensemble import Rows, Scorer, align_columns, attach_ensemble, take
from llm_trainer.ml.tasks.spec import ModelJob, TrainedVersion
from llm_trainer.ml.training.data import Split
from llm_trainer.ml.training.evaluation import evaluate_probabilities
from llm_trainer.ml.version_store import ValidationReference, write_reference

log = logging.getLogger("llm_trainer.worker")


def default_fit(split: Split) -> Any:
    """The char 1-3-gram TF-IDF + logistic regression pipeline, fitted on the training split."""
    from llm_trainer.ml.baseline import train_baseline

    return train_baseline(split.train_texts, split.train_labels)[0]


def val_probabilities(pipeline: Any, split: Split) -> np.ndarray:
    """The fitted baseline's validation probabilities, one column per label of the split (in its order)."""
    return align_columns(pipeline.predict_proba(split.val_texts), [str(c) for c in pipeline.classes_], split.labels)


def baseline(split: Split, fit: Callable[[Split], Any] = default_fit) -> tuple[Any, dict[str, Any]]:
    """Train the classical baseline on the same split; returns (pipeline, full metrics from its probabilities)."""
    pipeline = fit(split)
    aligned = val_probabilities(pipeline, split)
    return pipeline, evaluate_probabilities(split.val_texts, split.val_labels, aligned, split.labels)


def fitted_baseline(split: Split, fit: Callable[[Split], Any] = default_fit) -> tuple[Any, np.ndarray] | None:
    """The baseline fitted on the same split with its validation probabilities (None when it cannot be fitted)."""
    try:
        pipeline = fit(split)
        return pipeline, val_probabilities(pipeline, split)
    except Exception as exc:  # noqa: BLE001 - the baseline is a comparison, never a reason to fail the run
        log.warning("TF-IDF baseline unavailable: %s", exc)
        return None


def scorer(split: Split) -> Scorer:
    """Validation metrics of any probabilities of the split's validation `rows` (all by default) over its labels
    (what the ensemble weight is chosen on)."""

    def score(probs: np.ndarray, rows: Rows | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        texts, labels = split.val_texts, split.val_labels
        if rows is not None:
            texts, labels = take(texts, rows), take(labels, rows)
        return evaluate_probabilities(texts, labels, probs, split.labels), {}

    return score


def baseline_summary(split: Split, fitted: tuple[Any, np.ndarray] | None) -> dict[str, Any] | None:
    if fitted is None:
        return None
    metrics = scorer(split)(fitted[1])[0]
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "weighted_f1": metrics["weighted_f1"]}


def train_tfidf(split: Split, reporter: Any, fit: Callable[[Split], Any] = default_fit) -> TrainedVersion:
    from llm_trainer.ml.baseline import save_baseline

    reporter.progress({"phase": RunPhase.TRAINING, "step": 0, "total_steps": 1, "train_size": len(split.train_texts)})
    started = time.monotonic()
    pipeline, metrics = baseline(split, fit)
    duration = time.monotonic() - started
    reporter.metric("eval", 1, 1.0, {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]})
    reporter.progress({"phase": RunPhase.SAVING, "step": 1, "epoch": 1.0, "elapsed_s": round(duration, 1)})

    def write_files(folder: Path) -> None:
        save_baseline(pipeline, folder)

    return TrainedVersion(kind="tfidf", labels=split.labels, metrics=metrics, write_files=write_files)


def keep_reference(folder: Path, split: Split, val_probs: Any) -> None:
    """Save PyTorch's validation answers with the version: the fast-serving export job queued after the save
    compares its ONNX copy with them (same label on >= 99.9% of texts, probabilities within 1e-3)."""
    from llm_trainer.ml.inference.export import EVAL_SAMPLE_CAP

    n = min(len(split.val_texts), EVAL_SAMPLE_CAP)
    labels = list(split.val_labels[:n]) if split.val_labels is not None else None
    probs = np.asarray(val_probs)[:n].tolist()
    texts = list(split.val_texts[:n])
    reference = ValidationReference(texts=texts, labels=labels, classes=list(split.labels), probs=probs, windowed=True)
    write_reference(folder, reference)


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
    reporter.progress({"phase": RunPhase.EVALUATING})
    metrics = evaluate_probabilities(split.val_texts, split.val_labels, outcome.val_probs, split.labels)
    reporter.progress({"phase": RunPhase.BASELINE})  # the TF-IDF fit takes a minute on long texts with many labels
    fitted = fitted_baseline(split, fit)
    metrics.update({"baseline": baseline_summary(split, fitted), **outcome.run_facts()})

    # Not after a stop: the user wants the run over; the copy can be built from the model page later.
    wanted = config.fast_serving and not outcome.stopped

    def write_files(folder: Path) -> None:
        save_model_folder(outcome.model, outcome.tokenizer, folder)
        if wanted:
            keep_reference(folder, split, outcome.val_probs)

    trained = TrainedVersion(
        kind="transformer",
        labels=split.labels,
        metrics=metrics,
        write_files=write_files,
        max_length=outcome.max_length,
        device=outcome.device,
        stopped=outcome.stopped,
        fast_serving=wanted,
    )
    return attach_ensemble(trained, outcome.val_probs, fitted, scorer(split), "accuracy")

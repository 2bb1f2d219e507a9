"""The multi-label TaskSpec: label sets per text, sigmoid head + BCE, thresholds tuned on validation."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.run_status import RunPhase
from llm_trainer.core.tasks import TaskKind
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.ml.ensemble import FoldRule, Rows, attach_ensemble, take
from llm_trainer.ml.tasks.classification.spec import ClassificationSpec, check_validation_marks, invalid
from llm_trainer.ml.tasks.spec import Ingest, ModelJob, TaskRow, TaskSpec, TrainedVersion
from llm_trainer.ml.training.data import Split, hold_out

log = logging.getLogger("llm_trainer.worker")
MULTI_LABEL = "multi_label_classification"


def _label_set(row: TaskRow) -> list[str]:
    if isinstance(row.annotation, list):
        return [str(x) for x in row.annotation]
    return [x for x in row.label.split("|") if x]


def split_multi_label(rows: Sequence[TaskRow], config: Any) -> Split:
    """Random hold-out of `validation_ratio` (no stratification over label sets), or the rows' own split marks."""
    train, val = hold_out([((r.text, _label_set(r)), r.split) for r in rows], config, "rows")
    labels = sorted({name for _, ls in train + val for name in ls})
    return Split([t for t, _ in train], [ls for _, ls in train], [t for t, _ in val], [ls for _, ls in val], labels)


def _fitted(split: Split) -> tuple[Any, np.ndarray]:
    """The one-vs-rest baseline fitted on the training part, and its validation probabilities (labels in order)."""
    from llm_trainer.ml.tasks.multi_label.baseline import fit_one_vs_rest

    pipeline = fit_one_vs_rest(split)
    return pipeline, np.asarray(pipeline.predict_proba(split.val_texts), dtype=np.float64)


def _scorer(split: Split) -> Any:
    """Probabilities of validation `rows` (all by default) -> (their metrics at thresholds tuned on them,
    {"thresholds": ...})."""
    from llm_trainer.ml.tasks.multi_label.metrics import full_evaluation

    def score(probs: np.ndarray, rows: Rows | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        texts, labels = split.val_texts, split.val_labels
        if rows is not None:
            texts, labels = take(texts, rows), take(labels, rows)
        metrics, thresholds = full_evaluation(texts, labels, probs, split.labels)
        return metrics, {"thresholds": thresholds}

    return score


def _fold_rule(split: Split) -> FoldRule:
    """The blend out of fold: each fold's weight and per-label thresholds both fitted on the other folds (weights
    chosen by the scorer's micro-F1 alone, about 30x faster than the whole evaluation)."""
    from llm_trainer.ml.tasks.multi_label.metrics import decide_at_tuned, micro_f1, multi_hot, out_of_fold_micro_f1

    truth = multi_hot(split.val_labels, split.labels)
    return FoldRule(
        select=lambda probs, rows: out_of_fold_micro_f1(truth[rows], probs),
        decide=lambda probs, fit, held: list(decide_at_tuned(truth[fit], probs[fit], probs[held])),
        value=lambda decided: micro_f1(truth, np.stack(decided)),
    )


def _baseline(split: Split) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    pipeline, probs = _fitted(split)
    metrics, settings = _scorer(split)(probs)
    return pipeline, metrics, settings["thresholds"]


class MultiLabelSpec(ClassificationSpec):
    kind = TaskKind.MULTI_LABEL
    column_roles = ("text", "label")
    primary_metric = "micro_f1"
    headline_metrics = ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")
    response_example = {
        "labels": ["动力", "油耗"],
        "probabilities": [{"label": "动力", "probability": 0.93, "threshold": 0.4, "passed": True}],
    }

    def recognise(self, sample: FileSample) -> list[str] | None:
        from llm_trainer.ml.tasks.multi_label.data import recognise_multi_label

        return recognise_multi_label(sample)

    def open_ingest(self, path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
        from llm_trainer.ml.tasks.multi_label.data import open_multi_label_table

        return open_multi_label_table(path, filename, columns)

    def check_trainable(self, label_counts: dict[str, int], validation_rows: int, config: Any) -> None:
        # The display label is the joined set: count labels, not sets.
        counts: dict[str, int] = {}
        for joined, n in label_counts.items():
            for name in joined.split("|"):
                counts[name] = counts.get(name, 0) + n
        if len(counts) < 2:
            raise invalid(
                "dataset_id", "The dataset has fewer than 2 labels; multi-label training needs at least 2.",
                code="too_few_labels",
            )  # fmt: skip
        check_validation_marks(validation_rows, config)
        if sum(label_counts.values()) < 4:
            raise invalid("dataset_id", "Too few rows to hold out a validation part; add rows.")

    def prepare(self, rows: Sequence[TaskRow], config: Any) -> Any:
        return split_multi_label(rows, config)

    def train_baseline(self, data: Any, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.baseline import save_baseline

        reporter.progress(
            {"phase": RunPhase.TRAINING, "step": 0, "total_steps": 1, "train_size": len(data.train_texts)}
        )
        started = time.monotonic()
        pipeline, metrics, thresholds = _baseline(data)
        reporter.metric("eval", 1, 1.0, {k: metrics[k] for k in ("micro_f1", "macro_f1", "subset_accuracy")})
        reporter.progress(
            {"phase": RunPhase.SAVING, "step": 1, "epoch": 1.0, "elapsed_s": round(time.monotonic() - started)}
        )

        def write_files(folder: Path) -> None:
            save_baseline(pipeline, folder, {"labels": data.labels, "task": self.kind.value})

        return TrainedVersion(kind="tfidf", labels=data.labels, metrics=metrics, write_files=write_files,
                              manifest_extra={"thresholds": thresholds})  # fmt: skip

    def train_model(self, data: Any, job: ModelJob, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.classification.training import keep_reference
        from llm_trainer.ml.tasks.multi_label.metrics import full_evaluation
        from llm_trainer.ml.training.trainer import TrainJob, save_model_folder, train_transformer

        config = job.config
        train_job = TrainJob(
            job.base_model, config, data, job.work_dir, job.cache_dir, job.resume, MULTI_LABEL, mlflow=job.mlflow
        )
        outcome = train_transformer(train_job, reporter)
        if not outcome.is_main:
            return TrainedVersion(kind="transformer", labels=data.labels, metrics={}, write_files=lambda _: None,
                                  is_main=False)  # fmt: skip
        reporter.progress({"phase": RunPhase.EVALUATING})
        metrics, thresholds = full_evaluation(data.val_texts, data.val_labels, outcome.val_probs, data.labels)
        fitted = None
        reporter.progress({"phase": RunPhase.BASELINE})
        try:
            fitted = _fitted(data)
            base_metrics = _scorer(data)(fitted[1])[0]
            keys = ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "accuracy")
            metrics["baseline"] = {k: base_metrics[k] for k in keys}
        except Exception as exc:  # noqa: BLE001 - the baseline is a comparison, never a reason to fail the run
            log.warning("one-vs-rest TF-IDF baseline unavailable: %s", exc)
            metrics["baseline"] = None
        metrics.update(outcome.run_facts())

        wanted = config.fast_serving and not outcome.stopped

        def write_files(folder: Path) -> None:
            save_model_folder(outcome.model, outcome.tokenizer, folder)
            if wanted:
                # No label comparison (labels are sets): the copy must match PyTorch's probabilities to be served.
                unlabelled = Split([], [], data.val_texts, None, data.labels)  # type: ignore[arg-type]
                keep_reference(folder, unlabelled, outcome.val_probs)

        trained = TrainedVersion(
            kind="transformer", labels=data.labels, metrics=metrics, write_files=write_files,
            max_length=outcome.max_length, device=outcome.device, stopped=outcome.stopped,
            manifest_extra={"thresholds": thresholds}, fast_serving=wanted,
        )  # fmt: skip
        # One-vs-rest columns are label numbers: the saved baseline names them.
        meta = {"labels": data.labels, "task": self.kind.value}
        return attach_ensemble(
            trained, outcome.val_probs, fitted, _scorer(data), self.primary_metric, meta, fold_rule=_fold_rule(data)
        )

    def load_predictor(self, version_dir: Path, kind: str, variant: str, warm_up: bool = True) -> Any:
        from llm_trainer.ml.inference.loading import load_predictor, read_manifest
        from llm_trainer.ml.tasks.multi_label.predictor import MultiLabelPredictor, thresholds_of, thresholds_owner

        base = load_predictor(version_dir, kind, variant, warm_up=warm_up)
        manifest = read_manifest(version_dir)
        labels = [str(x) for x in manifest.get("labels") or base.labels]
        base.labels = labels  # one-vs-rest pipelines only know column numbers
        # The ensemble answers at the thresholds tuned on its own blended validation probabilities.
        return MultiLabelPredictor(base, labels, thresholds_of(thresholds_owner(manifest, variant), labels))

    def to_public(self, answer: Any) -> dict[str, Any]:
        return {
            "label": "|".join(answer.labels),
            "labels": answer.labels,
            "score": answer.score,
            "probabilities": [
                {"label": n, "probability": p, "threshold": t, "passed": p >= t} for n, p, t in answer.probabilities
            ],
            "truncated": answer.truncated,
            "windows": answer.windows,
        }

    def file_columns(self, columns: list[str], chosen: dict[str, str | None]) -> dict[str, str | None]:
        return TaskSpec.file_columns(self, columns, chosen)  # label sets are not scored against a file column

    def file_output_columns(self, labels: Sequence[str]) -> list[str]:
        # One number per column: a spreadsheet sorts, filters and charts those; a JSON cell it can only show.
        return ["predicted_labels", *(f"probability_{name}" for name in labels)]

    def file_cells(self, answer: Any, labels: Sequence[str]) -> list[str]:
        probability = {name: p for name, p, _ in answer.probabilities}
        return ["|".join(answer.labels), *(f"{probability[name]:.6f}" for name in labels)]

    def version_settings(self, version_dir: Path, variant: str) -> dict[str, Any]:
        from llm_trainer.ml.inference.loading import read_manifest
        from llm_trainer.ml.tasks.multi_label.predictor import thresholds_owner

        # `variant` says whose thresholds these are: the ensemble's differ from the transformer's.
        return {
            "thresholds": thresholds_owner(read_manifest(version_dir), variant).get("thresholds"),
            "variant": variant,
        }

    def update_version_settings(self, version_dir: Path, variant: str, settings: dict[str, Any]) -> dict[str, Any]:
        from llm_trainer.ml.inference.loading import read_manifest
        from llm_trainer.ml.tasks.multi_label.predictor import thresholds_owner, write_thresholds

        new = settings.get("thresholds")
        labels = [str(x) for x in read_manifest(version_dir).get("labels") or []]
        if not isinstance(new, dict) or new.get("mode") not in ("per_label", "global"):
            raise invalid(
                "thresholds", 'Send {"thresholds": {"mode": "per_label" | "global", "global": 0.5, '
                '"per_label": {"label": 0.4, ...}}}.', code="invalid_thresholds",
            )  # fmt: skip
        per_label = {str(k): v for k, v in (new.get("per_label") or {}).items()}
        unknown = sorted(set(per_label) - set(labels))
        values = [new.get("global", 0.5), *per_label.values()]
        if unknown or not all(isinstance(v, int | float) and 0 < v < 1 for v in values):
            raise invalid(
                "thresholds",
                f"Thresholds must lie strictly between 0 and 1 and name this version's labels ({', '.join(labels)}); "
                f"unknown: {', '.join(unknown) or 'none'}.",
                code="invalid_thresholds",
            )
        current = thresholds_owner(read_manifest(version_dir), variant).get("thresholds") or {}
        stored = {
            "mode": new["mode"],
            "global": float(new.get("global", current.get("global", 0.5))),
            "per_label": {**(current.get("per_label") or {}), **{k: float(v) for k, v in per_label.items()}},
        }
        write_thresholds(version_dir, variant, stored)
        return {"thresholds": stored, "variant": variant}

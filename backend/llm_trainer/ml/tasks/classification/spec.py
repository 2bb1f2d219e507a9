"""The single-label classification TaskSpec (the product's original task, unchanged behaviour)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.tasks import TaskKind
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.datafiles.validate import DatasetValidator
from llm_trainer.ml.tasks.classification.data import open_text_label_table, recognise_text_label
from llm_trainer.ml.tasks.inputs import clean_texts, single_or_many
from llm_trainer.ml.tasks.spec import Ingest, ModelJob, TaskRow, TaskSpec, TrainedVersion


def invalid(field: str, message: str, code: str = "invalid_training_config", **details: Any) -> InvalidInput:
    return InvalidInput(message, code=code, details={"field": field, **details})


def check_validation_marks(validation_rows: int, config: Any, what: str = "rows") -> None:
    """validation_source=dataset needs rows the file marks as validation/test."""
    if config.validation_source == "dataset" and not validation_rows:
        raise invalid(
            "config.validation_source",
            f"The dataset has no {what} marked as validation/test; use validation_source=split.",
        )


def check_label_counts(counts: dict[str, int], validation_rows: int, config: Any, what: str = "classification") -> None:
    """At least 2 labels, and enough rows per label for the chosen validation split."""
    if len(counts) < 2:
        raise invalid(
            "dataset_id",
            f"The dataset has {len(counts)} usable label(s); {what} needs at least 2. Add rows with another label.",
            code="too_few_labels",
        )
    if config.validation_source == "dataset":
        if not validation_rows:
            raise invalid(
                "config.validation_source",
                "The dataset has no rows marked as validation/test; use validation_source=split.",
            )
        return
    rare = sorted(label for label, n in counts.items() if n < 2)
    if rare:
        raise invalid(
            "dataset_id",
            f"Labels {rare} have a single row, too few for a stratified validation split. "
            "Add rows for them or remove them from the dataset.",
            code="label_too_rare",
        )
    total = sum(counts.values())
    if total - max(round(total * config.validation_ratio), len(counts)) < len(counts):
        raise invalid("config.validation_ratio", "Too few rows to keep every label in both splits; add rows.")


class ClassificationSpec(TaskSpec):
    kind = TaskKind.CLASSIFICATION
    column_roles = ("text", "label")
    primary_metric = "accuracy"
    headline_metrics = ("accuracy", "macro_f1")
    response_example = {"label": "正面", "score": 0.97, "probabilities": [{"label": "正面", "probability": 0.97}]}
    ensemble = True

    def recognise(self, sample: FileSample) -> list[str] | None:
        return recognise_text_label(sample)

    def open_ingest(self, path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
        return open_text_label_table(path, filename, columns, lambda choice, _table: DatasetValidator(choice))

    def check_trainable(self, label_counts: dict[str, int], validation_rows: int, config: Any) -> None:
        check_label_counts(label_counts, validation_rows, config)

    def prepare(self, rows: Sequence[TaskRow], config: Any) -> Any:
        from llm_trainer.ml.training.data import split_rows

        triples = [(r.text, r.label, r.split) for r in rows]
        return split_rows(triples, source=config.validation_source, ratio=config.validation_ratio, seed=config.seed)

    def train_baseline(self, data: Any, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.classification.training import train_tfidf

        return train_tfidf(data, reporter)

    def train_model(self, data: Any, job: ModelJob, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.classification.training import train_transformer_version

        return train_transformer_version(data, job, reporter)

    def variants(self, kind: str) -> tuple[str, ...]:
        from llm_trainer.ml.inference.loading import ENSEMBLE, TFIDF, variants_for

        return variants_for(kind) + ((ENSEMBLE,) if self.ensemble and kind != TFIDF else ())

    def load_predictor(self, version_dir: Path, kind: str, variant: str, warm_up: bool = True) -> Any:
        from llm_trainer.ml.inference.loading import load_predictor

        return load_predictor(version_dir, kind, variant, warm_up=warm_up)

    def clean_inputs(self, fields: dict[str, Any], max_inputs: int, max_chars: int) -> tuple[list[Any], list[bool]]:
        return clean_texts(single_or_many(fields, "text", "texts") or [], max_inputs, max_chars)

    def file_columns(self, columns: list[str], chosen: dict[str, str | None]) -> dict[str, str | None]:
        from llm_trainer.datafiles.columns import choose_columns

        choice = choose_columns(columns, chosen.get("text"), chosen.get("label"), require_label=False)
        return {"text": choice.text, "label": choice.label}  # a label column is scored (accuracy, macro-F1)

    def to_public(self, answer: Any) -> dict[str, Any]:
        return {
            "label": answer.label,
            "score": answer.score,
            "probabilities": [{"label": lbl, "probability": p} for lbl, p in answer.probabilities],
            "truncated": answer.truncated,
            "windows": answer.windows,
        }

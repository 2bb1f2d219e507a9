"""The NER TaskSpec: texts with character spans; token classification (offset-aligned BIO) or a character CRF."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.run_status import RunPhase
from llm_trainer.core.tasks import TaskKind
from llm_trainer.core.variants import ServingVariant
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.ml.tasks.classification.spec import check_validation_marks, invalid
from llm_trainer.ml.tasks.inputs import clean_texts, single_or_many
from llm_trainer.ml.tasks.spec import ExportCheck, Ingest, ModelJob, Reports, TaskRow, TaskSpec, TrainedVersion
from llm_trainer.ml.training.data import hold_out

log = logging.getLogger("llm_trainer.worker")
CRF = ServingVariant.CRF.value
PYTORCH = ServingVariant.PYTORCH.value
ENSEMBLE = ServingVariant.ENSEMBLE.value  # the token model blended with its character CRF, per character
ONNX, ONNX_INT8 = ServingVariant.ONNX.value, ServingVariant.ONNX_INT8.value  # the token model's fast copies
Spans = list[tuple[int, int, str]]


@dataclass
class NerSplit:
    """Texts and their gold spans in the training and validation parts; `labels` are the entity types."""

    train_texts: list[str]
    train_spans: list[Spans]
    val_texts: list[str]
    val_spans: list[Spans]
    labels: list[str]

    @property
    def val_size(self) -> int:
        return len(self.val_texts)


def row_spans(row: TaskRow) -> Spans:
    items = row.annotation if isinstance(row.annotation, list) else json.loads(row.annotation or "[]")
    return [(int(e["start"]), int(e["end"]), str(e["label"])) for e in items]


def split_ner(rows: Sequence[TaskRow], config: Any) -> NerSplit:
    """Random hold-out of `validation_ratio`, or the rows' own split marks (validation_source=dataset)."""
    train, val = hold_out([((r.text, row_spans(r)), r.split) for r in rows], config, "texts")
    types = sorted({lb for _, spans in train + val for _, _, lb in spans})
    return NerSplit([t for t, _ in train], [s for _, s in train], [t for t, _ in val], [s for _, s in val], types)


def _entities(answer: Any) -> list[dict[str, Any]]:
    return [
        {"start": e.start, "end": e.end, "label": e.label, "text": e.text, "score": e.score} for e in answer.entities
    ]


class NerSpec(TaskSpec):
    kind = TaskKind.NER
    column_roles = ("text",)
    primary_metric = "micro_f1"
    headline_metrics = ("micro_f1", "macro_f1", "micro_precision", "micro_recall")
    ensemble = True
    response_example = {
        "label": "company,name",
        "score": 0.97,
        "probabilities": [],
        "text": "浙商银行企业信贷部叶老桂博士",
        "entities": [
            {"start": 0, "end": 4, "label": "company", "text": "浙商银行", "score": 0.98},
            {"start": 9, "end": 12, "label": "name", "text": "叶老桂", "score": 0.96},
        ],
        "truncated": False,
    }

    # --- data -------------------------------------------------------------------------------------------------
    def recognise(self, sample: FileSample) -> list[str] | None:
        from llm_trainer.ml.tasks.ner.data import recognise_ner

        return recognise_ner(sample)

    def open_ingest(self, path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
        from llm_trainer.ml.tasks.ner.data import open_ner_file

        return open_ner_file(path, filename, columns)

    # --- training ---------------------------------------------------------------------------------------------
    def check_trainable(self, label_counts: dict[str, int], validation_rows: int, config: Any) -> None:
        if not label_counts:
            raise invalid(
                "dataset_id",
                "The dataset has no entities; NER training needs labelled entities.",
                code="too_few_labels",
            )
        check_validation_marks(validation_rows, config, "texts")
        if sum(label_counts.values()) < 4:
            raise invalid("dataset_id", "Too few entities to hold out a validation part; add texts.")

    def prepare(self, rows: Sequence[TaskRow], config: Any) -> Any:
        return split_ner(rows, config)

    def train_baseline(self, data: NerSplit, reporter: Any) -> TrainedVersion:
        import shutil
        import tempfile

        from llm_trainer.ml.tasks.ner.crf import CrfTagger, fit_crf, write_meta
        from llm_trainer.ml.tasks.ner.metrics import evaluate

        reporter.progress(
            {"phase": RunPhase.TRAINING, "step": 0, "total_steps": 1, "train_size": len(data.train_texts)}
        )
        started = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix="ner-crf-"))
        path = fit_crf(data.train_texts, data.train_spans, scratch)
        tagger = CrfTagger.open(path)
        tagged = [tagger.tag(t) for t in data.val_texts]
        metrics = evaluate(
            data.val_texts, data.val_spans, [s for s, _ in tagged], data.labels, [sc for _, sc in tagged]
        )
        metrics["train_seconds"] = round(time.monotonic() - started, 1)
        reporter.metric("eval", 1, 1.0, {k: metrics[k] for k in ("micro_f1", "macro_f1")})
        reporter.progress({"phase": RunPhase.SAVING, "step": 1, "epoch": 1.0, "elapsed_s": metrics["train_seconds"]})

        def write_files(folder: Path) -> None:
            shutil.copyfile(path, folder / path.name)
            write_meta(folder, data.labels)
            shutil.rmtree(scratch, ignore_errors=True)

        return TrainedVersion(kind=CRF, labels=data.labels, metrics=metrics, write_files=write_files)

    def train_model(self, data: NerSplit, job: ModelJob, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.ner.training import train_ner_version

        return train_ner_version(data, job, reporter)

    # --- serving ----------------------------------------------------------------------------------------------
    def variants(self, kind: str) -> tuple[str, ...]:
        return (CRF,) if kind == CRF else (PYTORCH, ONNX, ONNX_INT8, ENSEMBLE)

    def traceable(self, version_dir: Path, texts: list[str]) -> tuple[Any, dict[str, Any]]:
        from llm_trainer.ml.tasks.ner.fast_copy import traceable

        return traceable(version_dir, texts)

    def export_and_compare(self, version_dir: Path, variant: str, check: ExportCheck, stop: Any = None) -> Reports:
        """Compared with the PyTorch tagger itself on the texts (entities and token probabilities; no labels)."""
        from llm_trainer.ml.tasks.ner.fast_copy import export_and_compare

        return export_and_compare(version_dir, variant, [str(t) for t in check.texts], stop)

    def load_predictor(self, version_dir: Path, kind: str, variant: str, warm_up: bool = True) -> Any:
        from llm_trainer.ml.inference.loading import blended_variant
        from llm_trainer.ml.tasks.ner.ensemble import load_ner_ensemble
        from llm_trainer.ml.tasks.ner.predictor import load_ner_predictor

        if variant not in self.variants(kind):
            raise FileNotFoundError(f"NER versions of kind {kind} have no variant {variant}")
        if variant == ENSEMBLE:
            model = blended_variant(version_dir)
            predictor = load_ner_ensemble(version_dir, lambda: load_ner_predictor(version_dir, kind, model))
        else:
            predictor = load_ner_predictor(version_dir, kind, variant)
        if warm_up:
            predictor.warm_up()
        return predictor

    def clean_inputs(self, fields: dict[str, Any], max_inputs: int, max_chars: int) -> tuple[list[Any], list[bool]]:
        texts = single_or_many(fields, "text", "texts")
        if texts is None:
            raise InvalidInput(
                'This version tags entities in texts: send {"text": "..."} or {"texts": ["...", ...]}.',
                code="text_expected",
            )
        return clean_texts(texts, max_inputs, max_chars)

    def file_output_columns(self, labels: Sequence[str]) -> list[str]:
        return ["entities"]

    def file_cells(self, answer: Any, labels: Sequence[str]) -> list[str]:
        return [json.dumps(_entities(answer), ensure_ascii=False)]  # code-point offsets, as the API gives them

    def to_public(self, answer: Any) -> dict[str, Any]:
        from llm_trainer.ml.tasks.ner.tags import summary

        entities = _entities(answer)
        return {
            "label": summary([(e.start, e.end, e.label) for e in answer.entities]),
            "score": min((e.score for e in answer.entities), default=1.0),
            "probabilities": [],
            "text": answer.text,
            "entities": entities,
            "truncated": answer.truncated,
        }

"""The sentence-pair TaskSpec: classification where each input is (text_a, text_b), encoded as two segments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.tasks import TaskKind
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.ml.tasks.classification.spec import ClassificationSpec
from llm_trainer.ml.tasks.inputs import check_count
from llm_trainer.ml.tasks.spec import Ingest, ModelJob, TaskRow, TrainedVersion


class PairSpec(ClassificationSpec):
    kind = TaskKind.PAIR
    column_roles = ("text", "text_b", "label")
    response_example = {
        "label": "1",
        "score": 0.91,
        "probabilities": [{"label": "1", "probability": 0.91}, {"label": "0", "probability": 0.09}],
    }

    def recognise(self, sample: FileSample) -> list[str] | None:
        from llm_trainer.ml.tasks.pair.data import recognise_pair

        return recognise_pair(sample)

    def open_ingest(self, path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
        from llm_trainer.ml.tasks.pair.data import open_pair_table

        return open_pair_table(path, filename, columns)

    def prepare(self, rows: Sequence[TaskRow], config: Any) -> Any:
        from llm_trainer.ml.training.data import split_rows

        # Tokenizers take (a, b) tuples as one two-segment input, so the classification pipeline carries pairs.
        triples = [((r.text, r.text_b or ""), r.label, r.split) for r in rows]
        return split_rows(triples, source=config.validation_source, ratio=config.validation_ratio, seed=config.seed)

    def train_baseline(self, data: Any, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.classification.training import train_tfidf
        from llm_trainer.ml.tasks.pair.baseline import fit_pair_baseline

        return train_tfidf(data, reporter, fit_pair_baseline)

    def train_model(self, data: Any, job: ModelJob, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.classification.training import train_transformer_version
        from llm_trainer.ml.tasks.pair.baseline import fit_pair_baseline

        return train_transformer_version(data, job, reporter, fit_pair_baseline)

    def clean_inputs(self, fields: dict[str, Any], max_inputs: int, max_chars: int) -> tuple[list[Any], list[bool]]:
        if fields.get("text_a") is not None:
            pairs = [(fields["text_a"], fields.get("text_b") or "")]
        elif fields.get("pairs") is not None:
            pairs = [(p["text_a"], p["text_b"]) if isinstance(p, dict) else tuple(p) for p in fields["pairs"]]
        else:
            raise InvalidInput(
                'This version matches sentence pairs: send {"text_a": "...", "text_b": "..."} or '
                '{"pairs": [{"text_a": "...", "text_b": "..."}, ...]}.',
                code="pair_expected",
            )
        if not pairs:
            raise InvalidInput('No pair given. Send {"text_a": "...", "text_b": "..."}.', code="empty_text")
        check_count(len(pairs), max_inputs, "pairs")
        blank = [i for i, (a, b) in enumerate(pairs) if not a.strip() or not b.strip()]
        if blank:
            raise InvalidInput(
                f"Pair {blank[0]} has an empty text. Both text_a and text_b need a non-space character.",
                code="empty_text",
                details={"indexes": blank[:20]},
            )
        cut = [len(a) > max_chars or len(b) > max_chars for a, b in pairs]
        return [(a[:max_chars], b[:max_chars]) for a, b in pairs], cut

    def file_columns(self, columns: list[str], chosen: dict[str, str | None]) -> dict[str, str | None]:
        from llm_trainer.ml.tasks.pair.data import pair_columns

        a, b, label, _ = pair_columns(columns, chosen, require_label=False)
        return {"text": a, "text_b": b, "label": label}

    def file_input(self, cells: dict[str, str], max_chars: int) -> Any | None:
        a, b = cells["text"], cells["text_b"]
        return (a[:max_chars], b[:max_chars]) if a.strip() and b.strip() else None

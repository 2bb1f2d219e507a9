"""Predict use case: validate texts, pick the version and variant, run them through the micro-batcher."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from llm_trainer.core.errors import InvalidInput, PayloadTooLarge
from llm_trainer.db.base import session_scope
from llm_trainer.ml.inference.predictor import Prediction
from llm_trainer.services.serving import Serving, check_variant, find_version, loaded_model


@dataclass
class PredictionResult:
    model_id: int
    model_name: str
    variant: str
    predictions: list[Prediction]
    latency_ms: float
    load_ms: float | None  # set when this request waited for the model to load


def clean_texts(texts: Sequence[str], max_texts: int, max_chars: int) -> tuple[list[str], list[bool]]:
    """Refuse empty or too many texts; cut texts longer than `max_chars` (flagged, not refused)."""
    if not texts:
        raise InvalidInput('No text given. Send {"text": "..."} or {"texts": ["...", ...]}.', code="empty_text")
    if len(texts) > max_texts:
        raise PayloadTooLarge(
            f"{len(texts)} texts in one request; at most {max_texts} are accepted. "
            "Split the request, or use batch file prediction (POST /api/predict/batch) for many texts.",
            code="too_many_texts",
            details={"max_texts": max_texts, "received": len(texts)},
        )
    blank = [i for i, t in enumerate(texts) if not t or not t.strip()]
    if blank:
        raise InvalidInput(
            f"Text {blank[0]} is empty. Every text needs at least one non-space character.",
            code="empty_text",
            details={"indexes": blank[:20]},
        )
    cut = [len(t) > max_chars for t in texts]
    return [t[:max_chars] for t in texts], cut


def predict(
    serving: Serving, texts: Sequence[str], model_id: int | None = None, variant: str | None = None
) -> PredictionResult:
    """Answer every text with its label, score and sorted class probabilities."""
    started = time.perf_counter()
    settings = serving.settings
    cleaned, cut = clean_texts(texts, settings.predict_max_texts, settings.predict_max_chars)
    with session_scope(serving.session_factory) as session:
        version = find_version(session, model_id)
        chosen = check_variant(version, variant)
    entry, load_ms = loaded_model(serving, version, chosen)
    predictions = entry.batcher.predict(cleaned)
    predictions = [replace(p, truncated=p.truncated or was_cut) for p, was_cut in zip(predictions, cut, strict=True)]
    return PredictionResult(
        model_id=version.id,
        model_name=version.name,
        variant=chosen,
        predictions=predictions,
        latency_ms=(time.perf_counter() - started) * 1000,
        load_ms=load_ms,
    )

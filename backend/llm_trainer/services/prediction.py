"""Predict use case: validate texts, pick the version and variant, run them through the micro-batcher."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from llm_trainer.core.errors import Conflict, InvalidInput, NotFound
from llm_trainer.db.base import session_scope
from llm_trainer.ml.tasks.inputs import clean_texts
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.services.serving import Serving, check_variant, find_version, loaded_model

log = logging.getLogger(__name__)


@dataclass
class PredictionResult:
    task: str
    model_id: int
    model_name: str
    variant: str
    predictions: list[Any]  # the task's answers (classification: Prediction); spec.to_public gives their JSON
    latency_ms: float
    load_ms: float | None  # set when this request waited for the model to load
    served: dict[str, Any] | None = None  # the ensemble: which transformer variant it blended, and the weight


def predict(
    serving: Serving, texts: Sequence[str], model_id: int | None = None, variant: str | None = None
) -> PredictionResult:
    """Answer every text with its label, score and sorted class probabilities."""
    return predict_fields(serving, {"texts": list(texts)}, model_id, variant)


def predict_fields(
    serving: Serving, fields: dict[str, Any], model_id: int | None = None, variant: str | None = None
) -> PredictionResult:
    """Answer the request's inputs (texts, pairs... as the version's task reads `fields`) with that task's answers."""
    started = time.perf_counter()
    settings = serving.settings
    with session_scope(serving.session_factory) as session:
        version = find_version(session, model_id)
        chosen = check_variant(version, variant)
    spec = get_spec(version.task)
    cleaned, cut = spec.clean_inputs(fields, settings.predict_max_texts, settings.predict_max_chars)
    entry, load_ms = loaded_model(serving, version, chosen)
    predictions = entry.batcher.predict(cleaned)
    predictions = [replace(p, truncated=p.truncated or was_cut) for p, was_cut in zip(predictions, cut, strict=True)]
    return PredictionResult(
        task=spec.kind.value,
        model_id=version.id,
        model_name=version.name,
        variant=chosen,
        predictions=predictions,
        latency_ms=(time.perf_counter() - started) * 1000,
        load_ms=load_ms,
        served=getattr(entry.predictor, "served", None),
    )


def load_in_background(serving: Serving, model_id: int | None, variant: str | None) -> tuple[int, str, bool]:
    """Start loading a version's predictor without waiting (a page does this when its user picks the version, so the
    first answer does not pay for importing torch and reading the model); (version id, variant, already loaded)."""
    with session_scope(serving.session_factory) as session:
        version = find_version(session, model_id)
        chosen = check_variant(version, variant)
    if (version.id, chosen) in serving.cache.loaded():
        return version.id, chosen, True
    serving.in_background((version.id, chosen), lambda: loaded_model(serving, version, chosen))
    return version.id, chosen, False


def preload_default(serving: Serving) -> None:
    """Start loading the version `/predict` answers with when no model is named (server start-up)."""
    try:
        load_in_background(serving, None, None)
    except (Conflict, InvalidInput, NotFound) as exc:  # no version yet, or its variant unusable: nothing to load
        log.info("no model preloaded: %s", exc)


def public_answers(result: PredictionResult) -> list[dict[str, Any]]:
    """Each answer as the JSON its task defines."""
    spec = get_spec(result.task)
    return [spec.to_public(p) for p in result.predictions]


__all__ = [
    "PredictionResult",
    "clean_texts",
    "load_in_background",
    "predict",
    "predict_fields",
    "preload_default",
    "public_answers",
]

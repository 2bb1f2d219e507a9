"""Serving variants: the ways one model version can answer predictions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ServingVariant(StrEnum):
    PYTORCH = "pytorch"  # the saved model, fp32
    ONNX = "onnx"  # ONNX Runtime fp32 copy
    ONNX_INT8 = "onnx_int8"  # ONNX Runtime, dynamic int8 quantisation
    TFIDF = "tfidf"  # a TF-IDF baseline version
    CRF = "crf"  # a character CRF baseline version (NER)
    ENSEMBLE = "ensemble"  # the transformer (ONNX when built, else PyTorch) blended with its TF-IDF (NER: CRF) baseline


def is_offered(metrics: dict[str, Any]) -> bool:
    """True when training recorded a blend that beats the transformer alone (the version's `metrics["ensemble"]`):
    such a version offers the ensemble variant and answers with it by default."""
    return bool((metrics.get("ensemble") or {}).get("offered"))


def blend_score(record: dict[str, Any], primary: str) -> float | None:
    """The blend's primary metric as reported: with its weight chosen out of fold (cross-fitted) where training
    measured that, else (versions from before, tiny validation sets) at the weight chosen on the same texts."""
    value = record.get("cross_fitted_value")
    if value is None:
        value = (record.get("metrics") or {}).get(primary)
    return float(value) if isinstance(value, int | float) else None

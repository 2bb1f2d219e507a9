"""Serving variants: the ways one model version can answer predictions."""

from __future__ import annotations

from enum import StrEnum


class ServingVariant(StrEnum):
    PYTORCH = "pytorch"  # the saved model, fp32
    ONNX = "onnx"  # ONNX Runtime fp32 copy
    ONNX_INT8 = "onnx_int8"  # ONNX Runtime, dynamic int8 quantisation
    TFIDF = "tfidf"  # a TF-IDF baseline version
    CRF = "crf"  # a character CRF baseline version (NER)
    ENSEMBLE = "ensemble"  # the transformer (ONNX when built, else PyTorch) blended with its TF-IDF (NER: CRF) baseline

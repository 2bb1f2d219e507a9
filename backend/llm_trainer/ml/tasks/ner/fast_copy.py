"""The token model's ONNX copy (fast serving): what the exporter traces, and the check of each built graph against
PyTorch on validation texts (the same entities, token probabilities equal up to float rounding)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.ml.inference.export import build_export, built_by
from llm_trainer.ml.tasks.ner.alignment import decode
from llm_trainer.ml.tasks.ner.predictor import TokenTagger, load_ner_predictor, load_token_model


def traceable(version_dir: Path, texts: list[str]) -> tuple[Any, dict[str, Any]]:
    """The token model and `texts` as the tagger feeds them: ids and mask only (windows carry no segment ids)."""
    tokenizer, model = load_token_model(version_dir)
    return model, dict(tokenizer(texts, padding=True, return_tensors="pt", return_token_type_ids=False))


def compare_taggers(
    reference: tuple[list[Any], list[np.ndarray]], id2label: Sequence[str], candidate: TokenTagger, texts: Sequence[str]
) -> dict[str, Any]:
    """How the candidate answers next to the reference (PyTorch's windows and token probabilities on `texts`): the
    share of texts tagged with the same entities (`agreement`) and the largest gap between their token probabilities."""
    windows, ref_probs = reference
    _, cand_probs = candidate.token_probs(texts)
    ref_spans = decode(len(texts), windows, ref_probs, id2label)
    cand_spans = decode(len(texts), windows, cand_probs, candidate.id2label)
    same = [r[0] == c[0] for r, c in zip(ref_spans, cand_spans, strict=True)]
    gaps = [float(np.abs(r - c).max()) for r, c in zip(ref_probs, cand_probs, strict=True) if r.size]
    return {
        "samples": len(texts),
        "agreement": float(np.mean(same)) if texts else None,
        "max_probability_diff": max(gaps, default=0.0) if texts else None,
    }


def export_and_compare(version_dir: Path, variant: str, texts: Sequence[str], stop: Any = None) -> dict[str, Any]:
    """Build `variant` (int8 builds fp32 on the way), then compare every graph built with the PyTorch tagger, whose
    answers are computed once for all of them."""
    build_export(version_dir, variant, stop)
    tagger = load_ner_predictor(version_dir, "transformer")
    reference = tagger.token_probs(texts)
    return {
        name: compare_taggers(reference, tagger.id2label, load_ner_predictor(version_dir, "transformer", name), texts)
        for name in built_by(variant)
    }

"""The NER ensemble: the token model's per-character tag probabilities blended with the character CRF's marginals.

The token model reads the tokenizer's pieces, whose edges are not always an entity's (one piece can hold the end of a
name and the next word); the CRF reads characters through its own features. Their weighted geometric mean,
renormalised per character, is decoded at character level, so the blend can also put a boundary inside a piece. The
CRF's weight is chosen on the validation split by `ml.ensemble.choose_weight` (a linear blend of log-probabilities is
the geometric mean), and the version keeps the CRF file in its `ensemble/` folder when the blend beats the model.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.variants import ServingVariant
from llm_trainer.ml.ensemble import Scorer, attach_choice, blend, choose_weight
from llm_trainer.ml.tasks.ner.alignment import CharProbs, decode_chars
from llm_trainer.ml.tasks.ner.crf import META_FILE, MODEL_FILE, CrfTagger
from llm_trainer.ml.tasks.ner.metrics import entity_scores
from llm_trainer.ml.tasks.ner.predictor import WARM_UP_TEXT, NerPrediction, answer
from llm_trainer.ml.tasks.spec import TrainedVersion
from llm_trainer.ml.version_store import ensemble_dir, read_manifest

FLOOR = 1e-9  # a probability of 0 would veto a tag whatever the other model says


def to_log(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probs, FLOOR, None))


def from_log(log_probs: np.ndarray) -> np.ndarray:
    """Rows of log-probabilities (up to a constant) -> probabilities that sum to 1."""
    e = np.exp(log_probs - log_probs.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def crf_at(crf: CrfTagger, texts: Sequence[str], chars: Sequence[CharProbs], id2label: Sequence[str]) -> np.ndarray:
    """The CRF's marginals at the characters the token model covers, all texts stacked [characters, labels]."""
    rows = [crf.marginals(t, id2label)[c.positions] for t, c in zip(texts, chars, strict=True)]
    return np.concatenate(rows) if rows else np.zeros((0, len(id2label)))


def stacked(chars: Sequence[CharProbs], width: int) -> np.ndarray:
    return np.concatenate([c.probs for c in chars]) if chars else np.zeros((0, width))


def unstack(chars: Sequence[CharProbs], probs: np.ndarray) -> list[CharProbs]:
    """Stacked [characters, labels] rows back into one `CharProbs` per text (the positions of `chars`)."""
    cuts = np.cumsum([len(c.positions) for c in chars])[:-1]
    return [CharProbs(c.positions, p) for c, p in zip(chars, np.split(probs, cuts), strict=True)]


def scorer(
    texts: Sequence[str], gold: Sequence[Any], types: Sequence[str], chars: Sequence[CharProbs], id2label: Sequence[str]
) -> Scorer:
    """`choose_weight`'s scorer: stacked blended log-probabilities -> (validation entity scores, no settings)."""

    def score(blended: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        decoded = decode_chars(unstack(chars, from_log(blended)), id2label)
        return entity_scores(texts, gold, [s for s, _ in decoded], types), {}

    return score


def save_crf(crf_file: Path, types: Sequence[str]) -> Callable[[Path], None]:
    """The ensemble folder's writer: the fitted CRF file (then its scratch folder goes) and what it tags."""

    def write(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crf_file, folder / MODEL_FILE)
        (folder / META_FILE).write_text(json.dumps({"kind": "crf", "labels": list(types)}), encoding="utf-8")
        shutil.rmtree(crf_file.parent, ignore_errors=True)

    return write


def attach_crf_ensemble(
    trained: TrainedVersion,
    texts: Sequence[str],
    gold: Sequence[Any],
    types: Sequence[str],
    chars: Sequence[CharProbs],
    id2label: Sequence[str],
    crf_file: Path | None,
) -> TrainedVersion:
    """Choose the CRF's weight on the validation texts (`chars`: the model's per-character probabilities there) and
    record it; the version keeps the CRF (from `crf_file`, in a scratch folder) only when the blend beats the model."""
    if crf_file is None or not trained.is_main:
        trained.metrics["ensemble"] = None
        return trained
    model_log = to_log(stacked(chars, len(id2label)))
    crf_log = to_log(crf_at(CrfTagger.open(crf_file), texts, chars, id2label))
    primary = "micro_f1"
    score = scorer(texts, gold, types, chars, id2label)
    choice = choose_weight(model_log, crf_log, score, primary, model_value=trained.metrics[primary])
    if not choice.beats_model:
        shutil.rmtree(crf_file.parent, ignore_errors=True)
    return attach_choice(trained, choice, primary, save_crf(crf_file, types))


class NerEnsemblePredictor:
    """The token model and the CRF on the same texts, tag probabilities blended per character."""

    variant = ServingVariant.ENSEMBLE.value

    def __init__(self, model: Any, crf: CrfTagger, weight: float):
        self.model, self.crf, self.weight = model, crf, float(weight)
        self.labels = model.labels
        self.served = {
            "model_variant": model.variant,
            "baseline": ServingVariant.CRF.value,
            "baseline_weight": self.weight,
        }

    def spans(self, texts: Sequence[str]) -> list[tuple[list, list[float]]]:
        chars = self.model.char_probs(texts)
        model_log = to_log(stacked(chars, len(self.model.id2label)))
        crf_log = to_log(crf_at(self.crf, texts, chars, self.model.id2label))
        return decode_chars(unstack(chars, from_log(blend(model_log, crf_log, self.weight))), self.model.id2label)

    def predict(self, texts: Sequence[str]) -> list[NerPrediction]:
        return [answer(t, s, sc) for t, (s, sc) in zip(texts, self.spans(texts), strict=True)] if texts else []

    def warm_up(self) -> None:
        self.predict([WARM_UP_TEXT])


def load_ner_ensemble(version_dir: Path, load_model: Any) -> NerEnsemblePredictor:
    """The version's ensemble around the token model `load_model` returns; FileNotFoundError (before anything is
    loaded) when the version offers none."""
    record = read_manifest(version_dir).get("ensemble")
    folder = ensemble_dir(version_dir)
    if not record or not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(folder)
    return NerEnsemblePredictor(load_model(), CrfTagger.open(folder / MODEL_FILE), record["weight"])

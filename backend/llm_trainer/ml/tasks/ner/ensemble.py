"""The NER ensemble: the token model and the character CRF decoded as one model, per character.

The token model reads the tokenizer's pieces, whose edges are not always an entity's (one piece can hold the end of a
name and the next word); the CRF reads characters through its own features and tag transitions. A tag path over the
characters is scored (1 - w) x the token model's log-probabilities (each token's evidence spread over its characters,
so it counts once) + w x the CRF's own path score (state weights plus transition weights, what crfsuite's Viterbi
maximises), and the best valid BIO path is read back as spans, so the blend can also end an entity inside a piece.
The CRF's weight w is chosen on the validation split (`ml.ensemble.choose_weight_by`); the version keeps the CRF file
in its `ensemble/` folder when the blend beats the model alone. An entity's score is the mean, over its characters,
of the two models' probabilities for its tags, weighted the same way.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.variants import ServingVariant
from llm_trainer.ml.ensemble import Rows, attach_choice, choose_weight_by, offered_ensemble, take
from llm_trainer.ml.tasks.ner.alignment import CharProbs, Span, char_spans
from llm_trainer.ml.tasks.ner.crf import META_FILE, MODEL_FILE, CrfScores, CrfTagger
from llm_trainer.ml.tasks.ner.metrics import entity_scores
from llm_trainer.ml.tasks.ner.predictor import WARM_UP_TEXT, NerPrediction, answer
from llm_trainer.ml.tasks.ner.tags import best_path
from llm_trainer.ml.tasks.spec import TrainedVersion

log = logging.getLogger("llm_trainer.worker")
FLOOR = 1e-9  # a probability of 0 would veto a tag whatever the CRF says


@dataclass
class CrfView:
    """The CRF on one text, at the characters the token model covers: state scores and marginals [n, labels]."""

    unary: np.ndarray
    marginals: np.ndarray

    @classmethod
    def of(cls, crf: CrfTagger, scores: CrfScores, text: str, chars: CharProbs, id2label: Sequence[str]) -> CrfView:
        return cls(scores.unary(text)[chars.positions], crf.marginals(text, id2label)[chars.positions])


def joint_path(chars: CharProbs, view: CrfView, transitions: np.ndarray, weight: float, id2label) -> list[int]:
    """The best valid BIO path under (1 - w) x token model log-probabilities + w x the CRF's path score."""
    model = np.log(np.clip(chars.probs, FLOOR, None)) * chars.share[:, None]
    return best_path((1 - weight) * model + weight * view.unary, id2label, weight * transitions)


def joint_spans(
    chars: CharProbs, view: CrfView, transitions: np.ndarray, weight: float, id2label: Sequence[str]
) -> tuple[list[Span], list[float]]:
    if not len(chars.positions):
        return [], []
    path = joint_path(chars, view, transitions, weight, id2label)
    return char_spans(chars, path, (1 - weight) * chars.probs + weight * view.marginals, id2label)


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
    try:
        crf = CrfTagger.open(crf_file)
        scores = crf.scores(id2label)
        views = [CrfView.of(crf, scores, t, c, id2label) for t, c in zip(texts, chars, strict=True)]
    except Exception as exc:  # noqa: BLE001 - the blend is an offer, never a reason to fail the run
        log.warning("NER ensemble with the CRF unavailable: %s", exc)
        shutil.rmtree(crf_file.parent, ignore_errors=True)
        trained.metrics["ensemble"] = None
        return trained

    def spans_at(weight: float) -> list[Any]:
        return [joint_spans(c, v, scores.transitions, weight, id2label)[0] for c, v in zip(chars, views, strict=True)]

    def score(pred: list[Any], rows: Rows) -> tuple[dict[str, Any], dict[str, Any]]:
        return entity_scores(take(texts, rows), take(gold, rows), pred, types), {}

    primary = "micro_f1"
    choice = choose_weight_by(spans_at, score, len(texts), primary, model_value=trained.metrics[primary])
    if not choice.beats_model:
        shutil.rmtree(crf_file.parent, ignore_errors=True)
    return attach_choice(trained, choice, primary, save_crf(crf_file, types))


class NerEnsemblePredictor:
    """The token model and the CRF on the same texts, decoded as one model per character."""

    variant = ServingVariant.ENSEMBLE.value

    def __init__(self, model: Any, crf: CrfTagger, weight: float):
        self.model, self.crf, self.weight = model, crf, float(weight)
        self.labels = model.labels
        self.scores = crf.scores(model.id2label)
        self.served = {"model_variant": model.variant, "baseline": ServingVariant.CRF.value, "baseline_weight": weight}

    def spans(self, texts: Sequence[str]) -> list[tuple[list[Span], list[float]]]:
        id2label = self.model.id2label
        out = []
        for text, chars in zip(texts, self.model.char_probs(texts), strict=True):
            view = CrfView.of(self.crf, self.scores, text, chars, id2label)
            out.append(joint_spans(chars, view, self.scores.transitions, self.weight, id2label))
        return out

    def predict(self, texts: Sequence[str]) -> list[NerPrediction]:
        return [answer(t, s, sc) for t, (s, sc) in zip(texts, self.spans(texts), strict=True)] if texts else []

    def warm_up(self) -> None:
        self.predict([WARM_UP_TEXT])


def load_ner_ensemble(version_dir: Path, load_model: Callable[[], Any]) -> NerEnsemblePredictor:
    """The version's ensemble around the token model `load_model` returns (see `ml.ensemble.offered_ensemble`)."""
    weight, folder = offered_ensemble(version_dir, MODEL_FILE)
    return NerEnsemblePredictor(load_model(), CrfTagger.open(folder / MODEL_FILE), weight)

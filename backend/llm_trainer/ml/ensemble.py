"""The ensemble serving variant: the transformer's probabilities averaged with its TF-IDF baseline's.

p = (1 - w) x transformer + w x baseline, with the baseline weight w chosen on the validation split from WEIGHTS
(w = 0 is the transformer alone, so the choice can only match or beat it there). Tasks whose spec sets `ensemble`
(classification, pairs, multi-label) call `attach_ensemble` after training with their own scorer (multi-label
re-tunes its thresholds on the blended probabilities); the version records the choice under `metrics["ensemble"]`
and, only when the blend beats the transformer alone, keeps the fitted baseline in `ensemble/` and offers the
variant, which then answers by default (`TaskSpec.default_variant`). Serving runs the transformer variant in use (ONNX
when built, else PyTorch) and the baseline (microseconds) on the same inputs. NER combines its token model with its
character CRF, per character, and chooses the CRF's weight the same way (`ml/tasks/ner/ensemble.py`, through
`choose_weight_by` and `attach_choice`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.variants import ServingVariant
from llm_trainer.ml.baseline import META_FILE, load_baseline, save_baseline
from llm_trainer.ml.inference.predictor import Predictor
from llm_trainer.ml.tasks.spec import TrainedVersion
from llm_trainer.ml.version_store import ensemble_dir, read_manifest

ENSEMBLE = ServingVariant.ENSEMBLE.value
WEIGHTS = tuple(i / 10 for i in range(11))  # the baseline's share: 0 (transformer alone) ... 1 (baseline alone)

# probabilities [n, classes] -> (validation metrics, settings the blend serves with, e.g. multi-label thresholds)
Scorer = Callable[[np.ndarray], tuple[dict[str, Any], dict[str, Any]]]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)  # flags such as one_answer are not scores


def blend(model_probs: np.ndarray, baseline_probs: np.ndarray, weight: float) -> np.ndarray:
    return (1.0 - weight) * np.asarray(model_probs, dtype=np.float64) + weight * np.asarray(baseline_probs)


def align_columns(probs: np.ndarray, columns: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Reorder a baseline's [n, columns] probabilities into `labels` order (0 for a label it never saw)."""
    probs = np.asarray(probs, dtype=np.float64)
    index = {str(c): i for i, c in enumerate(columns)}
    out = np.zeros((probs.shape[0], len(labels)))
    for j, name in enumerate(labels):
        if name in index:
            out[:, j] = probs[:, index[name]]
    return out


@dataclass
class EnsembleChoice:
    weight: float
    metrics: dict[str, Any]  # the blend's validation metrics at `weight`
    settings: dict[str, Any]
    model_value: float  # the primary metric of the transformer alone (w = 0)
    by_weight: list[tuple[float, float]]  # (weight, primary metric) for every weight tried
    beats_model: bool

    def record(self, primary: str) -> dict[str, Any]:
        """What the version stores under metrics["ensemble"] (scalars only: the model's own report has the rest)."""
        return {
            "weight": self.weight,
            "primary_metric": primary,
            "metrics": {k: float(v) for k, v in self.metrics.items() if _is_number(v)},
            "model_value": self.model_value,
            "beats_model": self.beats_model,
            # Offered only when better: at a tie the blend costs a second model's memory and gains nothing.
            "offered": self.beats_model,
            "by_weight": [{"weight": w, primary: v} for w, v in self.by_weight],
        }


def choose_weight(
    model_probs: np.ndarray,
    baseline_probs: np.ndarray,
    score: Scorer,
    primary: str,
    higher_is_better: bool = True,
    weights: Sequence[float] = WEIGHTS,
) -> EnsembleChoice:
    """Score the blend of the two probability arrays at every weight on validation and keep the best."""
    return choose_weight_by(lambda w: score(blend(model_probs, baseline_probs, w)), primary, higher_is_better, weights)


def choose_weight_by(
    score_at: Callable[[float], tuple[dict[str, Any], dict[str, Any]]],
    primary: str,
    higher_is_better: bool = True,
    weights: Sequence[float] = WEIGHTS,
    model_value: float | None = None,
) -> EnsembleChoice:
    """`score_at(w)` -> (validation metrics, settings) at every weight; the best is kept (ties go to the smaller
    baseline weight). `weights` must hold 0, the transformer alone, which the blend has to beat; `model_value` is the
    transformer's own score where `score_at(0)` reads it differently from how the model is served (NER)."""
    sign = 1.0 if higher_is_better else -1.0
    tried = []
    for w in weights:
        metrics, settings = score_at(float(w))
        tried.append((float(w), metrics, settings))
    values = [float(m[primary]) for _, m, _ in tried]
    alone = [w for w, _, _ in tried].index(0.0)
    if model_value is not None:
        values[alone] = float(model_value)
    best = max(range(len(tried)), key=lambda i: (sign * values[i], -tried[i][0]))
    weight, metrics, settings = tried[best]
    return EnsembleChoice(
        weight=weight,
        metrics=metrics,
        settings=settings,
        model_value=values[alone],
        by_weight=list(zip([w for w, _, _ in tried], values, strict=True)),
        beats_model=best != alone and sign * values[best] > sign * values[alone],
    )


def attach_choice(
    trained: TrainedVersion, choice: EnsembleChoice, primary: str, write_baseline: Callable[[Path], Any]
) -> TrainedVersion:
    """Record `choice` on `trained` and, only when the blend beats the model, have the version write its baseline into
    the `ensemble/` folder (`write_baseline(folder)`) and serve the blend at the chosen weight."""
    trained.metrics["ensemble"] = choice.record(primary)
    if choice.beats_model:
        trained.manifest_extra["ensemble"] = {"weight": choice.weight, **choice.settings}
        write_model = trained.write_files

        def write_files(folder: Path) -> Any:
            written = write_model(folder)
            write_baseline(ensemble_dir(folder))
            return written

        trained.write_files = write_files
    return trained


def attach_ensemble(
    trained: TrainedVersion,
    model_probs: np.ndarray,
    baseline: tuple[Any, np.ndarray] | None,
    score: Scorer,
    primary: str,
    baseline_meta: dict[str, Any] | None = None,
) -> TrainedVersion:
    """Record the best blend of `trained` with its TF-IDF `baseline` (fitted pipeline, its validation probabilities
    in the version's label order) and, when it beats the transformer alone, save the pipeline with the version
    (`baseline_meta["labels"]` names the pipeline's columns when its classes are column numbers: one-vs-rest)."""
    if baseline is None or not trained.is_main:
        trained.metrics["ensemble"] = None
        return trained
    pipeline, baseline_probs = baseline
    choice = choose_weight(model_probs, baseline_probs, score, primary)
    return attach_choice(trained, choice, primary, lambda folder: save_baseline(pipeline, folder, baseline_meta))


class EnsemblePredictor(Predictor):
    """A transformer predictor and a baseline pipeline on the same inputs, probabilities blended.

    Truncation flags and window counts are the transformer's (the baseline reads every text whole)."""

    variant = ENSEMBLE

    def __init__(self, model: Any, pipeline: Any, baseline_columns: Sequence[str], weight: float):
        self.model = model
        self.pipeline = pipeline
        self.baseline_columns = [str(c) for c in baseline_columns]
        self.weight = float(weight)
        self.labels = list(model.labels)
        self.served = {
            "model_variant": model.variant,
            "baseline": ServingVariant.TFIDF.value,
            "baseline_weight": self.weight,
        }

    def _baseline(self, texts: Sequence[Any]) -> np.ndarray:
        probs = self.pipeline.predict_proba(list(texts))
        return align_columns(probs, self.baseline_columns, self.labels)

    def probabilities(self, texts: Sequence[Any]) -> tuple[np.ndarray, list[bool]]:
        probs, truncated = self.model.probabilities(texts)
        return blend(probs, self._baseline(texts), self.weight), truncated

    def scored(self, texts: Sequence[Any]) -> tuple[np.ndarray, list[bool], list[int]]:
        probs, truncated, windows = self.model.scored(texts)
        return blend(probs, self._baseline(texts), self.weight), truncated, windows


def offered_ensemble(version_dir: Path, baseline_file: str) -> tuple[float, Path]:
    """(the blend's weight, the folder holding its baseline) of a version that offers one; FileNotFoundError (before
    anything is loaded) when it offers none: its blend did not beat the transformer, or it predates them."""
    record = read_manifest(version_dir).get("ensemble")
    folder = ensemble_dir(version_dir)
    if not record or not (folder / baseline_file).is_file():
        raise FileNotFoundError(folder)
    return float(record["weight"]), folder


def load_ensemble(version_dir: Path, load_model: Callable[[], Any]) -> EnsemblePredictor:
    """The version's ensemble around the transformer predictor `load_model` returns (see `offered_ensemble`)."""
    weight, folder = offered_ensemble(version_dir, META_FILE)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    return EnsemblePredictor(load_model(), load_baseline(folder), meta["labels"], weight)

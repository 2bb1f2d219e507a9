"""The ensemble serving variant: the transformer's probabilities averaged with its TF-IDF baseline's.

p = (1 - w) x transformer + w x baseline, with the baseline weight w chosen on the validation split from WEIGHTS
(w = 0 is the transformer alone, so the choice can only match or beat it there). That choice is scored on the texts
it was made on, so the blend is also scored cross-fitted: each fifth of validation blended at the weight the other
four fifths chose (`cross_fitted_value`). The blend is offered only when that honest score beats the transformer's: a
weight picked among eleven on the scored texts reads a few tenths high. Tasks whose spec sets `ensemble`
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
from llm_trainer.ml.folds import FOLDS, can_hold_out, fold_ids
from llm_trainer.ml.inference.predictor import Predictor
from llm_trainer.ml.tasks.spec import TrainedVersion
from llm_trainer.ml.version_store import ensemble_dir, read_manifest

ENSEMBLE = ServingVariant.ENSEMBLE.value
WEIGHTS = tuple(i / 10 for i in range(11))  # the baseline's share: 0 (transformer alone) ... 1 (baseline alone)

Rows = np.ndarray  # row indices into the validation split, ascending
# (predictions of `rows` (all when None): probabilities [n, classes], NER span lists...) -> (validation metrics of
# those rows, settings the blend serves with, e.g. multi-label thresholds)
Scorer = Callable[..., tuple[dict[str, Any], dict[str, Any]]]


def take(predictions: Any, rows: Rows) -> Any:
    """The predictions of `rows`: array rows or list items."""
    return predictions[rows] if isinstance(predictions, np.ndarray) else [predictions[i] for i in rows]


@dataclass(frozen=True)
class FoldRule:
    """How the blend is scored out of fold: each fold's weight is the one whose predictions score best (`select`) on
    the other folds; `decide` turns the fold's predictions at that weight into decisions, fitting whatever else the
    task fits (multi-label thresholds) on the other folds too; `value` scores every row's decisions, in row order."""

    select: Callable[[Any, Rows], float]  # (predictions of rows, rows) -> primary metric
    decide: Callable[[Any, Rows, Rows], list[Any]]  # (all rows' predictions, fit rows, held rows) -> held decisions
    value: Callable[[list[Any]], float]

    @classmethod
    def scored_by(cls, score: Scorer, primary: str) -> FoldRule:
        """Nothing fitted but the weight: decisions are the predictions, scored as a whole."""

        def value(decided: list[Any]) -> float:
            whole = np.stack(decided) if decided and isinstance(decided[0], np.ndarray) else decided
            return float(score(whole, np.arange(len(decided)))[0][primary])

        return cls(
            select=lambda p, rows: float(score(p, rows)[0][primary]),
            decide=lambda p, fit, held: list(take(p, held)),
            value=value,
        )


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
    cross_fitted_value: float | None = None  # the primary metric with the weight chosen out of fold (None: too few)
    fold_weights: list[float] | None = None  # the weight each fold's complement chose

    def record(self, primary: str) -> dict[str, Any]:
        """What the version stores under metrics["ensemble"] (scalars only: the model's own report has the rest)."""
        return {
            "weight": self.weight,
            "primary_metric": primary,
            "metrics": {k: float(v) for k, v in self.metrics.items() if _is_number(v)},
            "model_value": self.model_value,
            "cross_fitted_value": self.cross_fitted_value,
            "fold_weights": self.fold_weights,
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
    fold_rule: FoldRule | None = None,
) -> EnsembleChoice:
    """Score the blend of the two probability arrays at every weight on validation and keep the best."""
    return choose_weight_by(
        lambda w: blend(model_probs, baseline_probs, w), score, len(model_probs), primary, higher_is_better, weights,
        fold_rule=fold_rule,
    )  # fmt: skip


def choose_weight_by(
    predict_at: Callable[[float], Any],
    score: Scorer,
    n: int,
    primary: str,
    higher_is_better: bool = True,
    weights: Sequence[float] = WEIGHTS,
    model_value: float | None = None,
    fold_rule: FoldRule | None = None,
) -> EnsembleChoice:
    """`predict_at(w)`: the n validation rows' predictions at weight w; `score(predictions, rows)`: their metrics.
    The best weight on all rows is kept (ties go to the smaller baseline weight) and the blend is offered only when
    its cross-fitted score beats the transformer's. `weights` must hold 0, the transformer alone; `model_value` is
    the transformer's own score where the blend at 0 reads it differently from how the model is served (NER);
    `fold_rule` is how a task that fits more than the weight (multi-label thresholds) scores the blend out of fold."""
    sign = 1.0 if higher_is_better else -1.0
    predictions = {float(w): predict_at(float(w)) for w in weights}
    every = np.arange(n)
    tried = [(w, *score(p, every)) for w, p in predictions.items()]
    values = [float(m[primary]) for _, m, _ in tried]
    alone = [w for w, _, _ in tried].index(0.0)
    if model_value is not None:
        values[alone] = float(model_value)
    best = max(range(len(tried)), key=lambda i: (sign * values[i], -tried[i][0]))
    weight, metrics, settings = tried[best]
    rule = fold_rule or FoldRule.scored_by(score, primary)
    crossed = _cross_fitted(predictions, n, sign, rule)
    honest = values[best] if crossed is None else crossed[0]
    better = best != alone and sign * values[best] > sign * values[alone]
    return EnsembleChoice(
        weight=weight,
        metrics=metrics,
        settings=settings,
        model_value=values[alone],
        by_weight=list(zip([w for w, _, _ in tried], values, strict=True)),
        beats_model=better and sign * honest > sign * values[alone],
        cross_fitted_value=None if crossed is None else crossed[0],
        fold_weights=None if crossed is None else crossed[1],
    )


def _cross_fitted(
    predictions: dict[float, Any], n: int, sign: float, rule: FoldRule
) -> tuple[float, list[float]] | None:
    """(the primary metric of every row decided at the weight, and with whatever else, fitted on the other folds;
    the weight each fold got); None when validation is too small to hold a fold out."""
    if not can_hold_out(n):
        return None
    ids = fold_ids(n)
    chosen: list[float] = []
    decided: dict[int, Any] = {}
    for k in range(FOLDS):
        held, fit = np.flatnonzero(ids == k), np.flatnonzero(ids != k)
        w = max(sorted(predictions), key=lambda w: (sign * rule.select(take(predictions[w], fit), fit), -w))
        chosen.append(w)
        decided.update(zip(held.tolist(), rule.decide(predictions[w], fit, held), strict=True))
    return float(rule.value([decided[i] for i in range(n)])), chosen


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
    fold_rule: FoldRule | None = None,
) -> TrainedVersion:
    """Record the best blend of `trained` with its TF-IDF `baseline` (fitted pipeline, its validation probabilities
    in the version's label order) and, when it beats the transformer alone, save the pipeline with the version
    (`baseline_meta["labels"]` names the pipeline's columns when its classes are column numbers: one-vs-rest)."""
    if baseline is None or not trained.is_main:
        trained.metrics["ensemble"] = None
        return trained
    pipeline, baseline_probs = baseline
    choice = choose_weight(model_probs, baseline_probs, score, primary, fold_rule=fold_rule)
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

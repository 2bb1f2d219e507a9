"""Multi-label metrics and decision thresholds: tuned per label and globally on the validation split, scored out of
fold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llm_trainer.ml.folds import FOLDS, can_hold_out, fold_ids

GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)
MISSED_CAP = 200


def multi_hot(label_sets: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(labels)}
    out = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    for row, names in enumerate(label_sets):
        for name in names:
            if name in index:
                out[row, index[name]] = 1
    return out


def _f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = float((truth & pred).sum())
    denom = float(truth.sum() + pred.sum())
    return 2 * tp / denom if denom else 0.0


def tune_thresholds(truth: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """The global threshold with the best micro-F1, and per label the one with the best F1 (the global one for a
    label absent from validation, where nothing can be tuned)."""
    micro = [_f1(truth, (probs >= t).astype(np.int8)) for t in GRID]
    best_global = float(GRID[int(np.argmax(micro))])
    per_label = []
    for j in range(truth.shape[1]):
        if not truth[:, j].any():
            per_label.append(best_global)
            continue
        scores = [_f1(truth[:, j], (probs[:, j] >= t).astype(np.int8)) for t in GRID]
        per_label.append(float(GRID[int(np.argmax(scores))]))
    return {"global": best_global, "per_label": per_label}


def out_of_fold(truth: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 decisions at per-label and at global thresholds, each validation text decided at thresholds tuned on the
    other folds (fixed seeded folds): scores read from them are what tuned thresholds do on texts they were not tuned
    on. Thresholds tuned and scored on the same texts read about a point high, more on small or rare-label sets."""

    def decide(rows: Any, tuned: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return probs[rows] >= np.asarray(tuned["per_label"])[None, :], probs[rows] >= tuned["global"]

    per_label, one = np.zeros_like(truth, dtype=np.int8), np.zeros_like(truth, dtype=np.int8)
    if not can_hold_out(len(truth)):  # too few texts to hold any out: tuned in-sample
        per_label[:], one[:] = decide(slice(None), tune_thresholds(truth, probs))
        return per_label, one
    folds = fold_ids(len(truth))
    for k in range(FOLDS):
        held = folds == k
        per_label[held], one[held] = decide(held, tune_thresholds(truth[~held], probs[~held]))
    return per_label, one


def out_of_fold_micro_f1(truth: np.ndarray, probs: np.ndarray) -> float:
    """`full_evaluation`'s micro-F1 alone (per-label thresholds out of fold), for choices made many times over."""
    return _f1(truth, out_of_fold(truth, probs)[0])


def decide_at_tuned(truth_fit: np.ndarray, probs_fit: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """0/1 decisions on `probs` at the per-label thresholds tuned on other texts (`truth_fit`, `probs_fit`)."""
    tuned = tune_thresholds(truth_fit, probs_fit)
    return (probs >= np.asarray(tuned["per_label"])[None, :]).astype(np.int8)


def micro_f1(truth: np.ndarray, decisions: np.ndarray) -> float:
    return _f1(truth, decisions)


def scores(truth: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """micro/macro-F1, per-label P/R/F1/support, subset accuracy, Hamming loss of 0/1 decisions."""
    from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(truth, pred, zero_division=0)
    subset = float((pred == truth).all(axis=1).mean()) if len(truth) else 0.0
    return {
        "micro_f1": float(f1_score(truth, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
        "subset_accuracy": subset,
        "accuracy": subset,  # what generic pages read as "accuracy": every label of the text right
        "hamming_loss": float(hamming_loss(truth, pred)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(labels)
        },
        "count": len(truth),
    }


def _misclassified(texts: Sequence[Any], truth: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> list[Any]:
    return [
        {"text": t, "true": [labels[j] for j in np.flatnonzero(truth[i])],
         "predicted": [labels[j] for j in np.flatnonzero(pred[i])]}
        for i, t in enumerate(texts) if (pred[i] != truth[i]).any()
    ][:MISSED_CAP]  # fmt: skip


def full_evaluation(
    texts: Sequence[Any], truth_sets: Sequence[Sequence[str]], probs: np.ndarray, labels: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, thresholds): the thresholds are tuned on the whole validation split (what the version answers
    with); the scores, per-label thresholds and the global-threshold ones beside, are read out of fold, so neither
    the model nor its baseline is credited with fitting its thresholds to the texts it is scored on. The 0.5 column
    tunes nothing; the misclassified examples are the version's own answers at its thresholds."""
    truth = multi_hot(truth_sets, labels)
    probs = np.asarray(probs)
    tuned = tune_thresholds(truth, probs)
    per_label, one = out_of_fold(truth, probs)
    metrics = scores(truth, per_label, labels)
    answered = (probs >= np.asarray(tuned["per_label"])[None, :]).astype(np.int8)
    metrics["misclassified"] = _misclassified(texts, truth, answered, labels)
    half = (probs >= 0.5).astype(np.int8)
    for name, pred in (("at_0_5", half), ("at_global", one)):
        other = scores(truth, pred, labels)
        metrics[name] = {k: other[k] for k in ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")}
    thresholds = {
        "mode": "per_label",
        "global": tuned["global"],
        "per_label": dict(zip(labels, tuned["per_label"], strict=True)),
    }
    metrics["thresholds"] = thresholds
    return metrics, thresholds

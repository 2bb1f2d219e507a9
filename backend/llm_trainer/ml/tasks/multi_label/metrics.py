"""Multi-label metrics and decision thresholds: tuned per label and globally on the validation split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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


def evaluate(
    texts: Sequence[Any], truth_sets: Sequence[Sequence[str]], probs: np.ndarray, labels: Sequence[str],
    thresholds: Sequence[float],
) -> dict[str, Any]:  # fmt: skip
    """micro/macro-F1, per-label P/R/F1/support, subset accuracy, Hamming loss at the given per-label thresholds."""
    from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support

    truth = multi_hot(truth_sets, labels)
    pred = (np.asarray(probs) >= np.asarray(thresholds)[None, :]).astype(np.int8)
    p, r, f, s = precision_recall_fscore_support(truth, pred, zero_division=0)
    subset = float((pred == truth).all(axis=1).mean()) if len(truth) else 0.0
    wrong = [
        {"text": t, "true": [labels[j] for j in np.flatnonzero(truth[i])],
         "predicted": [labels[j] for j in np.flatnonzero(pred[i])]}
        for i, t in enumerate(texts) if (pred[i] != truth[i]).any()
    ][:MISSED_CAP]  # fmt: skip
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
        "misclassified": wrong,
    }


def full_evaluation(
    texts: Sequence[Any], truth_sets: Sequence[Sequence[str]], probs: np.ndarray, labels: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics at the tuned per-label thresholds with the 0.5 and global-threshold scores beside, thresholds)."""
    truth = multi_hot(truth_sets, labels)
    tuned = tune_thresholds(truth, probs)
    metrics = evaluate(texts, truth_sets, probs, labels, tuned["per_label"])
    for name, value in (("at_0_5", 0.5), ("at_global", tuned["global"])):
        other = evaluate(texts, truth_sets, probs, labels, [value] * len(labels))
        metrics[name] = {k: other[k] for k in ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")}
    thresholds = {
        "mode": "per_label",
        "global": tuned["global"],
        "per_label": dict(zip(labels, tuned["per_label"], strict=True)),
    }
    metrics["thresholds"] = thresholds
    return metrics, thresholds

"""Classification metrics shared by training and batch prediction: scores, per-class report, confusion, mistakes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

MISCLASSIFIED_CAP = 200
ONE_ANSWER_SHARE = 0.98  # of the texts given the same label ...
ONE_ANSWER_EXCESS = 0.05  # ... at least this much more often than it is true (a 97 % class may be answered 98 %)


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted F1, per-class precision/recall/F1/support and the confusion matrix (rows = true)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    names = list(labels) + sorted({*y_true, *y_pred} - set(labels))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=names, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=names, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=names, average="weighted", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(names)
        },
        "confusion_matrix": {
            "labels": names,
            "matrix": confusion_matrix(y_true, y_pred, labels=names).tolist(),
        },
        "count": len(y_true),
        **answer_spread(y_true, y_pred),
    }


def answer_spread(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """The label answered most often, its share of the answers and of the truth, the accuracy of always answering the
    most common true label, and `one_answer`: nearly every text got the same label, far more often than it is true (a
    model that has not learned to tell the labels apart, however its accuracy reads)."""
    if not y_true:
        return {}
    top, answered = Counter(y_pred).most_common(1)[0]
    truth = Counter(y_true)
    share, true_share = answered / len(y_pred), truth[top] / len(y_true)
    return {
        "top_answer": {"label": top, "share": share, "true_share": true_share},
        "majority_accuracy": truth.most_common(1)[0][1] / len(y_true),
        "one_answer": share >= ONE_ANSWER_SHARE and share - true_share >= ONE_ANSWER_EXCESS,
    }


def misclassified_examples(
    texts: Sequence[str],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidence: Sequence[float],
    cap: int = MISCLASSIFIED_CAP,
) -> list[dict[str, Any]]:
    """Wrong predictions, most confident first (those are the most telling), at most `cap`."""
    wrong = [
        {"text": t, "true": yt, "predicted": yp, "confidence": float(c)}
        for t, yt, yp, c in zip(texts, y_true, y_pred, confidence, strict=True)
        if yt != yp
    ]
    wrong.sort(key=lambda row: -row["confidence"])
    return wrong[:cap]


def evaluate_probabilities(
    texts: Sequence[str], y_true: Sequence[str], probs: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Full evaluation from class probabilities (columns ordered as `labels`): metrics plus misclassified examples."""
    probs = np.asarray(probs)
    idx = probs.argmax(axis=1)
    y_pred = [labels[i] for i in idx]
    confidence = probs[np.arange(len(idx)), idx]
    metrics = classification_metrics(y_true, y_pred, labels)
    metrics["misclassified"] = misclassified_examples(texts, y_true, y_pred, confidence)
    return metrics


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function (independent per-label probabilities of multi-label heads)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))

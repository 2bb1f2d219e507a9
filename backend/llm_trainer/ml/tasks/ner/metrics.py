"""Entity-level NER metrics with seqeval (exact span and type), plus where the wrong spans went.

Gold and predicted spans are written as character-level BIO tags and scored by seqeval: on non-overlapping spans
this is exact-match precision/recall/F1 per type, micro and macro, as the CoNLL/CLUENER papers report.
`confusion_matrix` (rows: true type, columns: predicted type, "O" = nothing at that exact span) and `span_errors`
(missed, spurious, wrong type, wrong boundary) show what the mistakes are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from llm_trainer.ml.tasks.ner.tags import OUTSIDE, spans_to_bio

MISSED_CAP = 200
Spans = Sequence[tuple[int, int, str]]


def _mentions(text: str, spans: Spans) -> str:
    return ", ".join(f"{text[s:e]}/{lb}" for s, e, lb in spans) or "—"


def entity_scores(
    texts: Sequence[str], gold: Sequence[Spans], pred: Sequence[Spans], types: Sequence[str]
) -> dict[str, Any]:
    """micro/macro/weighted P/R/F1 and per-type P/R/F1/support (seqeval, default mode)."""
    from seqeval.metrics import classification_report

    y_true = [spans_to_bio(len(t), g) for t, g in zip(texts, gold, strict=True)]
    y_pred = [spans_to_bio(len(t), p) for t, p in zip(texts, pred, strict=True)]
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0) if texts else {}

    def row(key: str) -> dict[str, float]:
        r = report.get(key) or {}
        return {
            "precision": float(r.get("precision", 0.0)),
            "recall": float(r.get("recall", 0.0)),
            "f1": float(r.get("f1-score", 0.0)),
            "support": int(r.get("support", 0)),
        }

    micro, macro, weighted = row("micro avg"), row("macro avg"), row("weighted avg")
    exact = sum(set(g) == set(p) for g, p in zip(gold, pred, strict=True))
    return {
        "micro_f1": micro["f1"],
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "macro_f1": macro["f1"],
        "weighted_f1": weighted["f1"],
        # What generic pages read as accuracy: texts whose entities are all exactly right (none missed or extra).
        "accuracy": exact / len(gold) if gold else 0.0,
        "per_class": {t: row(t) for t in types},
        "entities_true": sum(len(g) for g in gold),
        "entities_predicted": sum(len(p) for p in pred),
        "count": len(texts),
    }


def span_errors(gold: Sequence[Spans], pred: Sequence[Spans], types: Sequence[str]) -> dict[str, Any]:
    """Confusion of types at exact spans, and counts of missed / spurious / wrong-type / wrong-boundary spans."""
    labels = [*types, OUTSIDE]
    index = {name: i for i, name in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    counts: Counter[str] = Counter()
    for g_spans, p_spans in zip(gold, pred, strict=True):
        by_pos = {(s, e): lb for s, e, lb in p_spans}
        gold_pos = {(s, e) for s, e, _ in g_spans}
        for s, e, lb in g_spans:
            got = by_pos.get((s, e))
            if lb not in index:
                continue
            matrix[index[lb]][index.get(got, index[OUTSIDE]) if got else index[OUTSIDE]] += 1
            if got is None:
                overlaps = any(ps < e and s < pe for ps, pe, _ in p_spans)
                counts["boundary" if overlaps else "missed"] += 1
            elif got != lb:
                counts["wrong_type"] += 1
        for s, e, lb in p_spans:
            if (s, e) not in gold_pos and lb in index:
                matrix[index[OUTSIDE]][index[lb]] += 1
                if not any(gs < e and s < ge for gs, ge, _ in g_spans):
                    counts["spurious"] += 1
    return {
        "confusion_matrix": {"labels": labels, "matrix": matrix},
        "span_errors": {k: counts.get(k, 0) for k in ("missed", "spurious", "wrong_type", "boundary")},
    }


def evaluate(
    texts: Sequence[str],
    gold: Sequence[Spans],
    pred: Sequence[Spans],
    types: Sequence[str],
    scores: Sequence[Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Everything a NER version's metrics hold: entity scores, span errors, wrongly tagged validation texts."""
    metrics = entity_scores(texts, gold, pred, types)
    metrics.update(span_errors(gold, pred, types))
    wrong = []
    for i, (text, g, p) in enumerate(zip(texts, gold, pred, strict=True)):
        if set(g) != set(p):
            confidence = min(scores[i]) if scores and scores[i] else 1.0
            wrong.append(
                {
                    "text": text,
                    "true": _mentions(text, g),
                    "predicted": _mentions(text, p),
                    "confidence": float(confidence),
                }
            )
    metrics["misclassified"] = wrong[:MISSED_CAP]
    return metrics

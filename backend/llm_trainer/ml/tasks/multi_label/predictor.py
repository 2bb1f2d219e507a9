"""Multi-label answers: every label with its probability, its threshold and whether it passes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_trainer.core.variants import ServingVariant
from llm_trainer.ml.version_store import read_manifest, write_manifest


@dataclass(frozen=True)
class MultiLabelPrediction:
    labels: list[str]  # passing labels, most probable first
    probabilities: list[tuple[str, float, float]]  # (label, probability, threshold), most probable first
    truncated: bool
    windows: int = 1  # >1: a long text was read in overlapping windows (max of their logits per label)

    @property
    def score(self) -> float:
        return self.probabilities[0][1] if self.probabilities else 0.0


def thresholds_of(manifest: dict[str, Any], labels: Sequence[str]) -> list[float]:
    """Per-label thresholds as the version's manifest says (mode per_label or global), 0.5 when none recorded."""
    rec = manifest.get("thresholds") or {}
    if rec.get("mode") == "global":
        return [float(rec.get("global", 0.5))] * len(labels)
    per = rec.get("per_label") or {}
    return [float(per.get(name, rec.get("global", 0.5))) for name in labels]


def thresholds_owner(manifest: dict[str, Any], variant: str) -> dict[str, Any]:
    """The part of the manifest holding `variant`'s thresholds: the ensemble's own record (tuned on the blended
    probabilities) or the manifest itself (the transformer's variants and TF-IDF versions)."""
    return (manifest.get("ensemble") or {}) if variant == ServingVariant.ENSEMBLE else manifest


def write_thresholds(version_dir: Path, variant: str, thresholds: dict[str, Any]) -> None:
    """Replace `variant`'s thresholds atomically (a reader sees the old or the new file, never half of one); the
    ensemble answers only where training recorded it, so its record is there to write into."""
    manifest = read_manifest(version_dir)
    thresholds_owner(manifest, variant)["thresholds"] = thresholds
    write_manifest(version_dir, manifest)


class MultiLabelPredictor:
    """Wraps a probability predictor (PyTorch/ONNX with a sigmoid head, or one-vs-rest TF-IDF)."""

    def __init__(self, base: Any, labels: list[str], thresholds: list[float]):
        self.base = base
        self.labels = labels
        self.thresholds = thresholds
        self.variant = getattr(base, "variant", "")
        self.served = getattr(base, "served", None)  # the ensemble says what it blends

    def probabilities(self, texts: Sequence[str]) -> Any:
        return self.base.probabilities(texts)

    def predict(self, texts: Sequence[str]) -> list[MultiLabelPrediction]:
        if not texts:
            return []
        probs, truncated, windows = self.base.scored(texts)
        out = []
        for row, cut, count in zip(probs, truncated, windows, strict=True):
            order = sorted(range(len(self.labels)), key=lambda j: -row[j])
            items = [(self.labels[j], float(row[j]), self.thresholds[j]) for j in order]
            out.append(MultiLabelPrediction([n for n, p, t in items if p >= t], items, bool(cut), int(count)))
        return out

    def warm_up(self) -> None:
        self.base.warm_up()

"""The classical baseline: TF-IDF over character 1-3-grams + logistic regression (scikit-learn).

Trains in seconds on CPU; every transformer run reports it on the same validation split, and it is saved as a model
version (`baseline.skops` + `baseline.json` in the version folder) served by the same prediction API.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.errors import InvalidInput, NotFound

BASELINE_FILE = "baseline.skops"
# Versions written before skops: pickled by this application itself into its own models/ folder.
LEGACY_BASELINE_FILE = "baseline.joblib"
META_FILE = "baseline.json"
# This application's own transformers inside baseline pipelines: trusted by name, as the loading code is ours.
OWN_TYPES = frozenset({"llm_trainer.ml.tasks.pair.baseline.PairFeatures"})


BASELINE_FEATURES = 50_000


def build_pipeline(seed: int = 0):
    """Unfitted pipeline: char 1-3-gram TF-IDF (sublinear tf) -> multinomial logistic regression on the
    BASELINE_FEATURES most frequent n-grams (L-BFGS's cost grows with features x classes)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, max_features=BASELINE_FEATURES
                ),
            ),
            ("clf", LogisticRegression(C=10.0, max_iter=2000, random_state=seed)),
        ]
    )


def evaluate_baseline(pipeline, texts: Sequence[str], labels: Sequence[Any]) -> dict[str, float]:
    """Accuracy, macro-F1 and weighted-F1 of a fitted pipeline."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = pipeline.predict(list(texts))
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro")),
        "weighted_f1": float(f1_score(labels, pred, average="weighted")),
    }


def train_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[Any],
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[Any] | None = None,
    seed: int = 0,
) -> tuple[Any, dict[str, float]]:
    """Fit on the training split; metrics are on the validation split (empty dict when none is given)."""
    pipeline = build_pipeline(seed)
    pipeline.fit(list(train_texts), list(train_labels))
    metrics = evaluate_baseline(pipeline, val_texts, val_labels) if val_texts else {}
    return pipeline, metrics


def predict_proba(pipeline, texts: Sequence[str]) -> tuple[list[Any], np.ndarray]:
    """(class labels in column order, probabilities [n_texts, n_classes])."""
    return list(pipeline.classes_), pipeline.predict_proba(list(texts))


def save_baseline(pipeline, directory: Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write the fitted pipeline (skops: no pickle, so loading it runs no code) and a JSON description."""
    import skops.io

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _plain_vocabularies(pipeline)
    skops.io.dump(pipeline, directory / BASELINE_FILE, compression=zipfile.ZIP_DEFLATED)
    labels = [c.item() if hasattr(c, "item") else c for c in pipeline.classes_]
    meta = {"kind": "tfidf", "labels": labels, **(metadata or {})}
    (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return directory


def _plain_vocabularies(estimator: Any) -> None:
    """Vocabulary indices as Python ints: skops stores each NumPy scalar as its own zip member, in quadratic time."""
    from sklearn.base import BaseEstimator

    vocabulary = getattr(estimator, "vocabulary_", None)
    if isinstance(vocabulary, dict):
        estimator.vocabulary_ = {term: int(index) for term, index in vocabulary.items()}
    children = [step for _, step in getattr(estimator, "steps", [])]
    children += [value for value in vars(estimator).values() if isinstance(value, BaseEstimator)]
    for child in children:
        _plain_vocabularies(child)


def is_baseline_dir(directory: Path) -> bool:
    return (Path(directory) / BASELINE_FILE).is_file()


def load_baseline(directory: Path):
    """Load a pipeline saved by `save_baseline`; skops refuses any type outside scikit-learn's trusted set."""
    import skops.io

    path = Path(directory) / BASELINE_FILE
    if path.is_file():
        untrusted = skops.io.get_untrusted_types(file=path)
        foreign = sorted(set(untrusted) - OWN_TYPES)
        if foreign:
            raise InvalidInput(
                f"The baseline file holds types this application did not write ({', '.join(foreign)}); "
                "train the baseline again here instead of copying a file in.",
                code="baseline_untrusted",
            )
        return skops.io.load(path, trusted=untrusted)
    legacy = Path(directory) / LEGACY_BASELINE_FILE
    if legacy.is_file():  # an older version this server trained itself (never a user upload)
        import joblib

        return joblib.load(legacy)
    raise NotFound(f"No TF-IDF baseline in this version ({BASELINE_FILE} missing).", code="baseline_missing")

"""The pair baseline: one char 1-3-gram TF-IDF space for both texts; cosine, overlap and length features plus the
element-wise product and difference of the two vectors, into logistic regression (scikit-learn, joblib-saved)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class PairFeatures(TransformerMixin, BaseEstimator):
    """(text_a, text_b) pairs -> sparse features; fitted on every text of the training pairs."""

    def __init__(self, max_features: int = 200_000):
        self.max_features = max_features

    def fit(self, pairs: Sequence[tuple[str, str]], y: Any = None) -> PairFeatures:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer_ = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), sublinear_tf=True, max_features=self.max_features
        )
        self.vectorizer_.fit([t for pair in pairs for t in _pair(pair)])
        return self

    def transform(self, pairs: Sequence[Any]) -> Any:
        from scipy.sparse import csr_matrix, hstack

        pairs = [_pair(p) for p in pairs]
        va = self.vectorizer_.transform([a for a, _ in pairs])
        vb = self.vectorizer_.transform([b for _, b in pairs])
        cosine = np.asarray(va.multiply(vb).sum(axis=1)).ravel()  # rows are L2-normalised
        dense = np.column_stack([cosine, [_jaccard(a, b) for a, b in pairs], [_length_ratio(a, b) for a, b in pairs],
                                 [float(a == b) for a, b in pairs]])  # fmt: skip
        return hstack([csr_matrix(dense), va.multiply(vb), abs(va - vb)]).tocsr()


def _pair(p: Any) -> tuple[str, str]:
    """A pair as (a, b); a lone text (the warm-up) is paired with itself."""
    if isinstance(p, str):
        return p, p
    return str(p[0]), str(p[1])


def _jaccard(a: str, b: str) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 0.0


def _length_ratio(a: str, b: str) -> float:
    return min(len(a), len(b)) / max(len(a), len(b), 1)


def fit_pair_baseline(split: Any, seed: int = 0) -> Any:
    """Fitted pipeline over `split.train_texts` (pairs) and `split.train_labels`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline(
        [("pair", PairFeatures()), ("clf", LogisticRegression(C=4.0, max_iter=2000, random_state=seed))]
    )
    pipeline.fit(list(split.train_texts), list(split.train_labels))
    return pipeline

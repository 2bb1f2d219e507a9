"""The multi-label baseline: char 1-3-gram TF-IDF + one-vs-rest logistic regression (one binary model per label)."""

from __future__ import annotations

from typing import Any

from llm_trainer.ml.tasks.multi_label.metrics import multi_hot


def fit_one_vs_rest(split: Any, seed: int = 0) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, max_features=300_000)),
            ("clf", OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000, random_state=seed))),
        ]
    )
    pipeline.fit(list(split.train_texts), multi_hot(split.train_labels, split.labels))
    return pipeline

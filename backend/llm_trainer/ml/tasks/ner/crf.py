"""The classical NER baseline: a linear-chain CRF (sklearn-crfsuite) over character features, BIO per character.

Features of character i: the character itself, its neighbours within two positions, the bigrams around it, and its
class (digit, Latin letter, CJK, punctuation, space). The model is saved as crfsuite's own binary file (no pickle)
and served with `pycrfsuite.Tagger`; an entity's score is the mean marginal probability of its tags.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.ml.tasks.ner.tags import spans_to_bio, tags_to_spans

MODEL_FILE = "ner_crf.crfsuite"
META_FILE = "ner_crf.json"
MAX_ITERATIONS = 100


def _kind(ch: str) -> str:
    if ch.isspace():
        return "space"
    if ch.isdigit():
        return "digit"
    if ch.isascii() and ch.isalpha():
        return "latin"
    if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
        return "cjk"
    return "punct" if unicodedata.category(ch).startswith("P") else "other"


def char_features(text: str) -> list[dict[str, Any]]:
    """One feature dict per character (NFKC-folded so full-width and half-width forms share weights)."""
    chars = [unicodedata.normalize("NFKC", c).lower() or c for c in text]
    n = len(chars)

    def at(i: int) -> str:
        return chars[i] if 0 <= i < n else ("<s>" if i < 0 else "</s>")

    out = []
    for i in range(n):
        out.append(
            {
                "bias": 1.0,
                "c": at(i),
                "c-1": at(i - 1),
                "c+1": at(i + 1),
                "c-2": at(i - 2),
                "c+2": at(i + 2),
                "c-1c": at(i - 1) + at(i),
                "cc+1": at(i) + at(i + 1),
                "c-1c+1": at(i - 1) + at(i + 1),
                "k": _kind(text[i]),
                "k-1": _kind(text[i - 1]) if i else "<s>",
                "k+1": _kind(text[i + 1]) if i + 1 < n else "</s>",
            }
        )
    return out


def fit_crf(
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int, str]]],
    folder: Path,
    c1: float = 0.05,
    c2: float = 0.05,
) -> Path:
    """Train with L-BFGS (elastic net) and write the model file into `folder`."""
    import sklearn_crfsuite

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    crf = sklearn_crfsuite.CRF(
        algorithm="lbfgs",
        c1=c1,
        c2=c2,
        max_iterations=MAX_ITERATIONS,
        all_possible_transitions=True,
        model_filename=str(path),
    )
    crf.fit([char_features(t) for t in texts], [spans_to_bio(len(t), s) for t, s in zip(texts, spans, strict=True)])
    return path


@dataclass
class CrfTagger:
    """A loaded CRF model: texts -> (spans, per-span scores). crfsuite's tagger holds the sequence it last read
    (`set`, then `marginal`), so one text at a time: the lock keeps a batch job and a request from mixing theirs."""

    tagger: Any
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, path: Path) -> CrfTagger:
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        tagger.open(str(path))
        return cls(tagger)

    def tag(self, text: str) -> tuple[list[tuple[int, int, str]], list[float]]:
        if not text:
            return [], []
        with self.lock:
            tags = self.tagger.tag(char_features(text))
            spans = tags_to_spans(tags)
            scores = []
            for s, e, _ in spans:
                probs = [self.tagger.marginal(tags[i], i) for i in range(s, e)]
                scores.append(sum(probs) / len(probs))
        return spans, scores

    def marginals(self, text: str, id2label: Sequence[str]) -> np.ndarray:
        """[characters, labels] marginal probability of each tag at each character (0 for a tag it never saw)."""
        with self.lock:
            self.tagger.set(char_features(text))
            known = set(self.tagger.labels())
            rows = [[self.tagger.marginal(t, i) if t in known else 0.0 for t in id2label] for i in range(len(text))]
        return np.array(rows, dtype=np.float64).reshape(len(text), len(id2label))

    def scores(self, id2label: Sequence[str]) -> CrfScores:
        """The model's own weights in `id2label` order (crfsuite parses the whole model: read once per load)."""
        with self.lock:
            info = self.tagger.info()
        index = {name: i for i, name in enumerate(id2label)}
        transitions = np.zeros((len(id2label), len(id2label)))
        for (before, after), weight in info.transitions.items():
            transitions[index[before], index[after]] = weight
        state: dict[str, np.ndarray] = {}
        for (attribute, label), weight in info.state_features.items():
            state.setdefault(attribute, np.zeros(len(id2label)))[index[label]] += weight
        return CrfScores(state, transitions)


def _attributes(features: dict[str, Any]) -> list[tuple[str, float]]:
    """crfsuite's names for a feature dict: "key:value" (weight 1) for strings, "key" (weight value) for numbers."""
    return [(f"{k}:{v}", 1.0) if isinstance(v, str) else (k, float(v)) for k, v in features.items()]


@dataclass
class CrfScores:
    """A CRF's log-potentials in one label order: per attribute, its weight for each tag at a character; per tag pair,
    the transition weight. A path's CRF score is the sum of both along it (what crfsuite's Viterbi maximises), so a
    token model's log-probabilities can be added in and the sum decoded as one model."""

    state: dict[str, np.ndarray]
    transitions: np.ndarray  # [previous, next]

    def unary(self, text: str) -> np.ndarray:
        """[characters, labels]: each character's state score for each tag."""
        zero = np.zeros(len(self.transitions))
        rows = [sum((self.state.get(a, zero) * v for a, v in _attributes(f)), zero) for f in char_features(text)]
        return np.array(rows, dtype=np.float64).reshape(len(text), len(self.transitions))


def write_meta(folder: Path, types: Sequence[str]) -> None:
    (folder / META_FILE).write_text(
        json.dumps({"kind": "crf", "labels": list(types)}, ensure_ascii=False), encoding="utf-8"
    )

"""Predictors: turn texts into sorted class probabilities with PyTorch, ONNX Runtime or a TF-IDF pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Length-sorted chunks of this size keep padding small while still amortising per-call overhead on CPU.
DEFAULT_BATCH_SIZE = 64
WARM_UP_TEXT = "预热一下模型，warm-up"


@dataclass(frozen=True)
class Prediction:
    """One text's answer: the top label, its probability, every class sorted by probability, truncation flag."""

    label: str
    score: float
    probabilities: list[tuple[str, float]]
    truncated: bool


def _softmax(logits: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(logits.astype(np.float64), axis=-1)


def to_predictions(probs: np.ndarray, labels: Sequence[str], truncated: Sequence[bool]) -> list[Prediction]:
    """Build sorted per-text answers from an [n, classes] probability matrix."""
    out = []
    for row, cut in zip(probs, truncated, strict=True):
        order = np.argsort(-row, kind="stable")
        pairs = [(labels[i], float(row[i])) for i in order]
        out.append(Prediction(label=pairs[0][0], score=pairs[0][1], probabilities=pairs, truncated=bool(cut)))
    return out


class Predictor(ABC):
    """Common face of every serving variant; `predict` is safe to call from one thread at a time."""

    variant: str = ""
    labels: list[str]

    @abstractmethod
    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        """Return ([n, classes] probabilities in `labels` order, per-text 'was truncated to max length')."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        probs, truncated = self.probabilities(texts)
        return to_predictions(probs, self.labels, truncated)

    def warm_up(self) -> None:
        """Run one tiny prediction so the first user request does not pay lazy init (kernels, allocators)."""
        self.predict([WARM_UP_TEXT])


class TokenizedPredictor(Predictor):
    """Shared tokenise -> length-sorted batches -> logits -> softmax path of the transformer variants."""

    tensor_type = "np"

    def __init__(self, tokenizer: Any, labels: list[str], max_length: int, batch_size: int = DEFAULT_BATCH_SIZE):
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_length = max_length
        self.batch_size = batch_size

    @abstractmethod
    def _logits(self, encoded: Any) -> np.ndarray:
        """Run the model on one padded batch."""

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        probs = np.zeros((len(texts), len(self.labels)))
        truncated = [False] * len(texts)
        # Sorting by length means each batch pads to similar lengths: less wasted compute than random batches.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in idx],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors=self.tensor_type,
            )
            probs[idx] = _softmax(self._logits(encoded))
            for i, cut in zip(idx, _overflowed(encoded, len(idx)), strict=True):
                truncated[i] = cut
        return probs, truncated


def _overflowed(encoded: Any, n: int) -> list[bool]:
    """Fast tokenizers keep the cut-off tokens of each truncated text in `Encoding.overflowing`."""
    encodings = getattr(encoded, "encodings", None)
    if not encodings:
        return [False] * n
    return [bool(e.overflowing) for e in encodings]


class TorchPredictor(TokenizedPredictor):
    """Plain fp32 PyTorch model under `torch.inference_mode`."""

    variant = "pytorch"
    tensor_type = "pt"

    def __init__(self, tokenizer: Any, model: Any, labels: list[str], max_length: int, **kw: Any):
        super().__init__(tokenizer, labels, max_length, **kw)
        self.model = model

    def _logits(self, encoded: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(**encoded).logits.float().numpy()


class OnnxPredictor(TokenizedPredictor):
    """An exported ONNX graph (fp32 or int8) run by ONNX Runtime on CPU."""

    def __init__(self, tokenizer: Any, session: Any, labels: list[str], max_length: int, variant: str, **kw: Any):
        super().__init__(tokenizer, labels, max_length, **kw)
        self.session = session
        self.variant = variant
        self.input_names = [i.name for i in session.get_inputs()]

    def _logits(self, encoded: Any) -> np.ndarray:
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        return self.session.run(None, feed)[0]


class SklearnPredictor(Predictor):
    """The TF-IDF baseline: a scikit-learn pipeline with predict_proba; it never truncates."""

    variant = "tfidf"

    def __init__(self, pipeline: Any):
        self.pipeline = pipeline
        self.labels = [str(c) for c in pipeline.classes_]

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        return np.asarray(self.pipeline.predict_proba(list(texts)), dtype=np.float64), [False] * len(texts)

"""Predictors: turn texts into sorted class probabilities with PyTorch, ONNX Runtime or a TF-IDF pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llm_trainer.ml.inference.runtime import on_torch_thread
from llm_trainer.ml.inference.windows import combine_for, pad_windows, windowed_logits
from llm_trainer.ml.truncation import Truncation, encode, full_encodings, pad

# Batches hold at most this many texts and padded tokens (texts x longest text): short texts share a batch that
# amortises per-call overhead, long ones go in small batches so one long text does not pad 63 short ones, and
# activations stay cache-sized. 512 measured best (quiet, 2 cores, 256-text requests of real reviews: pytorch
# 126 texts/s and int8 363, vs 73 and 163 with plain 64-text batches).
DEFAULT_BATCH_SIZE = 64
DEFAULT_BATCH_TOKENS = 512
WARM_UP_TEXT = "预热一下模型，warm-up"


@dataclass(frozen=True)
class Prediction:
    """One text's answer: the top label, its probability, every class sorted by probability, truncation flag."""

    label: str
    score: float
    probabilities: list[tuple[str, float]]
    truncated: bool
    windows: int = 1  # >1: a text longer than the max length was read in overlapping windows


def _softmax(logits: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(logits.astype(np.float64), axis=-1)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(logits.astype(np.float64))


MULTI_LABEL = "multi_label_classification"  # config.problem_type of sigmoid heads: independent label probabilities


def to_predictions(
    probs: np.ndarray, labels: Sequence[str], truncated: Sequence[bool], windows: Sequence[int] | None = None
) -> list[Prediction]:
    """Build sorted per-text answers from an [n, classes] probability matrix."""
    out = []
    for i, (row, cut) in enumerate(zip(probs, truncated, strict=True)):
        order = np.argsort(-row, kind="stable")
        pairs = [(labels[j], float(row[j])) for j in order]
        count = windows[i] if windows else 1
        out.append(Prediction(pairs[0][0], pairs[0][1], pairs, truncated=bool(cut), windows=count))
    return out


class Predictor(ABC):
    """Common face of every serving variant; `predict` is safe to call from one thread at a time."""

    variant: str = ""
    labels: list[str]

    @abstractmethod
    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        """Return ([n, classes] probabilities in `labels` order, per-text 'was truncated to max length')."""

    def scored(self, texts: Sequence[Any]) -> tuple[np.ndarray, list[bool], list[int]]:
        """`probabilities` plus how many windows each text was read in (1 unless a variant splits long texts)."""
        probs, truncated = self.probabilities(texts)
        return probs, truncated, [1] * len(truncated)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        probs, truncated, windows = self.scored(texts)
        return to_predictions(probs, self.labels, truncated, windows)

    def warm_up(self) -> None:
        """Run one tiny prediction so the first user request does not pay lazy init (kernels, allocators)."""
        self.predict([WARM_UP_TEXT])


class TokenizedPredictor(Predictor):
    """Tokenise -> token-budget batches of similar length -> logits -> softmax: shared by the transformer variants."""

    tensor_type = "np"

    def __init__(
        self,
        tokenizer: Any,
        labels: list[str],
        max_length: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        problem_type: str | None = None,
        truncation: str = "head",
        windows: bool = True,
    ):
        self.truncation = truncation
        self.windows = windows
        self.activation = _sigmoid if problem_type == MULTI_LABEL else _softmax
        self.combine = combine_for(problem_type == MULTI_LABEL)
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_length = max_length
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens

    @abstractmethod
    def _logits(self, encoded: Any) -> np.ndarray:
        """Run the model on one padded batch."""

    def _encode(self, texts: list[str], padded: bool) -> Any:
        tensors = self.tensor_type if padded else None
        return self.tokenizer(
            texts, truncation=True, max_length=self.max_length, padding=padded, return_tensors=tensors
        )

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        texts = list(texts)
        probs = np.zeros((len(texts), len(self.labels)))
        if not texts:  # e.g. an export scored on a version whose dataset is gone: nothing to score, nothing to fail
            return probs, []
        if self.truncation == Truncation.HEAD_TAIL:
            return self._head_tail_probabilities(texts, probs)
        if len(texts) == 1:  # the common single-text request: one pass, nothing to group
            encoded = self._encode(texts, padded=True)
            probs[:] = self.activation(self._logits(encoded))
            return probs, _overflowed(encoded, 1)
        # Tokenise once unpadded to learn token lengths (and truncation), then group similar lengths together.
        unpadded = self._encode(texts, padded=False)
        lengths = [len(ids) for ids in unpadded["input_ids"]]
        for idx in token_batches(lengths, self.batch_size, self.batch_tokens):
            probs[idx] = self.activation(self._logits(self._encode([texts[i] for i in idx], padded=True)))
        return probs, _overflowed(unpadded, len(texts))

    def scored(self, texts: Sequence[Any]) -> tuple[np.ndarray, list[bool], list[int]]:
        """Texts longer than the max length are read whole, in overlapping windows whose logits are combined."""
        texts = list(texts)
        windows = [1] * len(texts)
        long = self._too_long(texts) if self.windows else []
        if not long:
            probs, truncated = self.probabilities(texts)
            return probs, truncated, windows
        # Only the texts that fit take the one-pass path: a long text's forward pass happens once, in windows.
        probs = np.zeros((len(texts), len(self.labels)))
        truncated = [False] * len(texts)
        short = sorted(set(range(len(texts))) - set(long))
        if short:
            probs[short], cut = self.probabilities([texts[i] for i in short])
            for i, was_cut in zip(short, cut, strict=True):
                truncated[i] = was_cut
        pad_id = self.tokenizer.pad_token_id or 0

        def run_batch(features: list[dict[str, list[int]]]) -> np.ndarray:
            return self._logits(pad_windows(features, pad_id, self.tensor_type))

        combined = windowed_logits(
            self.tokenizer, [texts[i] for i in long], self.max_length, run_batch, self.combine,
            batch_size=max(1, self.batch_tokens // self.max_length),
        )  # fmt: skip
        probs[long] = self.activation(combined.logits)
        for i, count in zip(long, combined.windows, strict=True):
            windows[i], truncated[i] = count, False
        return probs, truncated, windows

    def _too_long(self, texts: list[Any]) -> list[int]:
        """Positions of the single texts (pairs are never windowed) with more tokens than the max length."""
        singles = [i for i, t in enumerate(texts) if isinstance(t, str)]
        if not singles:
            return []
        ids = full_encodings(self.tokenizer, [texts[i] for i in singles])["input_ids"]
        return [i for i, seq in zip(singles, ids, strict=True) if len(seq) > self.max_length]

    def _head_tail_probabilities(self, texts: list[str], probs: np.ndarray) -> tuple[np.ndarray, list[bool]]:
        """Cut as in training (start + end kept), then pad each length-grouped batch of the cut encodings."""
        features, cut = encode(self.tokenizer, texts, self.max_length, self.truncation)
        lengths = [len(ids) for ids in features["input_ids"]]
        pad_id = self.tokenizer.pad_token_id or 0
        for idx in token_batches(lengths, self.batch_size, self.batch_tokens):
            probs[idx] = self.activation(self._logits(pad(features, idx, pad_id, self.tensor_type)))
        return probs, cut


def token_batches(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indexes grouped by ascending length into batches within both limits (a lone over-long text still gets one)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so the newcomer is the longest: the padded size becomes (n + 1) x its length.
        if current and (len(current) >= max_texts or (len(current) + 1) * lengths[i] > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


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
        return on_torch_thread(self._forward, encoded)

    def _forward(self, encoded: Any) -> np.ndarray:
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
        # The tokenizer returns exactly what the graph takes (e.g. BERT's token_type_ids, which the generic fast
        # tokenizer class leaves out by default).
        tokenizer.model_input_names = list(self.input_names)

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

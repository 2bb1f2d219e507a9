"""NER answers: entities with type, character offsets, text and score, from the token model or the CRF."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.ml.inference.loading import EXPORT_VARIANTS, PYTORCH, onnx_session, tokenizer_without_torch
from llm_trainer.ml.inference.runtime import import_transformers, on_torch_thread
from llm_trainer.ml.tasks.ner.alignment import CharProbs, Window, char_probs, decode, encode_windows
from llm_trainer.ml.version_store import read_manifest

WARM_UP_TEXT = "预热一下模型，warm-up"
BATCH_WINDOWS = 32


@dataclass(frozen=True)
class Entity:
    start: int
    end: int  # exclusive
    label: str
    text: str
    score: float


@dataclass(frozen=True)
class NerPrediction:
    text: str  # the text as tagged (after the request's character cap): the offsets point into it
    entities: list[Entity]
    truncated: bool = False  # windows cover long texts: only the request's own character cap cuts anything

    @property
    def label(self) -> str:  # the display summary ("company,name×2"), what batch files and lists show
        from llm_trainer.ml.tasks.ner.tags import summary

        return summary([(e.start, e.end, e.label) for e in self.entities])

    @property
    def score(self) -> float:
        return min((e.score for e in self.entities), default=1.0)


def answer(text: str, spans: Sequence[tuple[int, int, str]], scores: Sequence[float]) -> NerPrediction:
    return NerPrediction(
        text, [Entity(s, e, lb, text[s:e], round(float(sc), 6)) for (s, e, lb), sc in zip(spans, scores, strict=True)]
    )


def softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


class TokenTagger:
    """A token-classification model + fast tokenizer: texts -> windows -> probabilities -> character spans."""

    variant = "pytorch"

    def __init__(self, tokenizer: Any, model: Any, max_length: int):
        self.tokenizer, self.model, self.max_length = tokenizer, model, max_length
        self.id2label = ordered_tags(model.config.id2label)

    @property
    def labels(self) -> list[str]:
        """The entity types its BIO tags name."""
        return sorted({t[2:] for t in self.id2label if t != "O"})

    def token_probs(self, texts: Sequence[str]) -> tuple[list[Window], list[np.ndarray]]:
        """The texts' windows and each window's [tokens, labels] probabilities."""
        windows = encode_windows(self.tokenizer, list(texts), self.max_length)
        probs: list[np.ndarray] = [np.zeros(0)] * len(windows)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        for start in range(0, len(order), BATCH_WINDOWS):
            idx = order[start : start + BATCH_WINDOWS]
            logits = self._logits([windows[i] for i in idx])
            for i, row in zip(idx, logits, strict=True):
                probs[i] = softmax(row[: len(windows[i].input_ids)])
        return windows, probs

    def spans(self, texts: Sequence[str]) -> list[tuple[list, list[float]]]:
        return decode(len(texts), *self.token_probs(texts), self.id2label)

    def char_probs(self, texts: Sequence[str]) -> list[CharProbs]:
        """Per text, tag probabilities per character (what an ensemble blends with a character model)."""
        return char_probs(texts, *self.token_probs(texts), self.id2label)

    def _logits(self, windows: list[Window]) -> list[np.ndarray]:
        return on_torch_thread(self._forward, windows)

    def _forward(self, windows: list[Window]) -> list[np.ndarray]:
        import torch

        batch = self.tokenizer.pad(_features(windows), return_tensors="pt")
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            logits = self.model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()
        return list(logits)

    def predict(self, texts: Sequence[str]) -> list[NerPrediction]:
        if not texts:
            return []
        return [answer(t, s, sc) for t, (s, sc) in zip(texts, self.spans(texts), strict=True)]

    def warm_up(self) -> None:
        self.predict([WARM_UP_TEXT])


class OnnxTokenTagger(TokenTagger):
    """The version's exported token model run by ONNX Runtime (fast serving): same windows, same decoding."""

    def __init__(self, tokenizer: Any, session: Any, id2label: dict[Any, str], max_length: int, variant: str):
        self.tokenizer, self.session, self.max_length, self.variant = tokenizer, session, max_length, variant
        self.id2label = ordered_tags(id2label)

    def _logits(self, windows: list[Window]) -> list[np.ndarray]:
        batch = self.tokenizer.pad(_features(windows), return_tensors="np")
        feed = {name: np.asarray(batch[name], dtype=np.int64) for name in ("input_ids", "attention_mask")}
        return list(self.session.run(None, feed)[0])


def ordered_tags(id2label: dict[Any, str]) -> list[str]:
    by_id = {int(k): v for k, v in id2label.items()}
    return [by_id[i] for i in sorted(by_id)]


def _features(windows: list[Window]) -> list[dict[str, list[int]]]:
    """What the tagger feeds per window (the exported graph takes the same two inputs)."""
    return [{"input_ids": w.input_ids, "attention_mask": w.attention_mask} for w in windows]


class CrfPredictor:
    variant = "crf"

    def __init__(self, tagger: Any, labels: list[str]):
        self.tagger, self.labels = tagger, labels

    def predict(self, texts: Sequence[str]) -> list[NerPrediction]:
        return [answer(t, *self.tagger.tag(t)) for t in texts]

    def warm_up(self) -> None:
        self.predict([WARM_UP_TEXT])


def load_token_model(folder: Path, device: str = "cpu") -> tuple[Any, Any]:
    import_transformers()  # serving loads start in request and batch threads
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from llm_trainer.ml.base_models.local import check_local_folder

    folder = check_local_folder(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder, trust_remote_code=False)
    return tokenizer, model.to(device).eval()


def load_ner_predictor(version_dir: Path, kind: str, variant: str = PYTORCH) -> Any:
    """The CRF, the token model (PyTorch) or its exported copy (`onnx`, `onnx_int8`; FileNotFoundError if not built)."""
    if kind == "crf":
        from llm_trainer.ml.tasks.ner.crf import META_FILE, MODEL_FILE, CrfTagger

        meta = json.loads((version_dir / META_FILE).read_text(encoding="utf-8"))
        return CrfPredictor(CrfTagger.open(version_dir / MODEL_FILE), [str(x) for x in meta["labels"]])
    max_length = int(read_manifest(version_dir).get("max_length") or 128)
    if variant in EXPORT_VARIANTS:
        config = json.loads((version_dir / "config.json").read_text(encoding="utf-8"))
        session = onnx_session(version_dir, variant)
        return OnnxTokenTagger(tokenizer_without_torch(version_dir), session, config["id2label"], max_length, variant)
    tokenizer, model = on_torch_thread(load_token_model, version_dir)
    return TokenTagger(tokenizer, model, max_length)

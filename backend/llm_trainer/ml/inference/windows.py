"""Long texts at prediction time: overlapping token windows, then one answer per text from its windows' logits.

Task-neutral on purpose (classification, multi-label and pair heads all give [windows, outputs] logits): the
splitting is the fast tokenizer's own overflow support, this module only batches and recombines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from llm_trainer.ml.truncation import pad

# A quarter of the window overlaps the next one, so a sentence cut at a border is whole in one of them.
DEFAULT_STRIDE_SHARE = 0.25


class WindowCombine(StrEnum):
    """How the windows' logits become the text's logits."""

    MEAN = "mean"  # every part of the text counts equally (sentiment, topic)
    MAX = "max"  # one strong passage decides (a keyword anywhere, multi-label tags)


def combine_for(multi_label: bool) -> WindowCombine:
    """Sentiment or topic is spread over a text (mean); a multi-label tag may sit in one passage (max)."""
    return WindowCombine.MAX if multi_label else WindowCombine.MEAN


@dataclass(frozen=True)
class WindowedLogits:
    """[texts, outputs] combined logits and how many windows each text used (1 = it fitted)."""

    logits: np.ndarray
    windows: list[int]


def encode_windows(tokenizer: Any, texts: Sequence[str], max_length: int, stride: int | None = None) -> Any:
    """Tokenise into windows of at most `max_length` tokens overlapping by `stride`; needs a fast tokenizer."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("windowed prediction needs a fast tokenizer (overflow_to_sample_mapping)")
    if stride is None:
        stride = int(max_length * DEFAULT_STRIDE_SHARE)
    # The stride counts tokens shared with the previous window; it must leave room for new ones.
    stride = max(0, min(stride, max_length // 2))
    return tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        padding=False,
    )


def pad_windows(features: list[dict[str, list[int]]], pad_id: int, tensor_type: str) -> dict[str, Any]:
    """One batch of `windowed_logits`' window features, right-padded (as arrays or torch tensors) for the model."""
    merged = {k: [f[k] for f in features] for k in features[0]}
    return pad(merged, range(len(features)), pad_id, tensor_type)


def combine_window_logits(
    logits: np.ndarray, sample_map: Sequence[int], n_texts: int, combine: WindowCombine = WindowCombine.MEAN
) -> WindowedLogits:
    """Fold [windows, outputs] logits into [n_texts, outputs] by the window -> text mapping."""
    sample_map = np.asarray(sample_map, dtype=np.int64)
    counts = np.bincount(sample_map, minlength=n_texts)
    if (counts == 0).any():
        raise ValueError("every text needs at least one window")
    out = np.zeros((n_texts, logits.shape[1]), dtype=np.float64)
    if combine == WindowCombine.MEAN:
        np.add.at(out, sample_map, logits.astype(np.float64))
        out /= counts[:, None]
    else:
        out[:] = -np.inf
        np.maximum.at(out, sample_map, logits.astype(np.float64))
    return WindowedLogits(logits=out, windows=[int(c) for c in counts])


def windowed_logits(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    run_batch: Callable[[list[dict[str, list[int]]]], np.ndarray],
    combine: WindowCombine = WindowCombine.MEAN,
    stride: int | None = None,
    batch_size: int = 32,
) -> WindowedLogits:
    """Split, run the model `batch_size` windows at a time (`run_batch` pads and returns logits), recombine."""
    enc = encode_windows(tokenizer, texts, max_length, stride)
    keys = [k for k in enc if k not in ("overflow_to_sample_mapping", "offset_mapping")]  # e.g. token_type_ids
    features = [{k: enc[k][i] for k in keys} for i in range(len(enc["input_ids"]))]
    # Similar lengths share a batch: only the last window of a text is short, so padding stays bounded.
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    parts: list[np.ndarray] = [np.empty(0)] * len(features)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch_logits = run_batch([features[i] for i in idx])
        for row, i in zip(batch_logits, idx, strict=True):
            parts[i] = row
    return combine_window_logits(np.stack(parts), enc["overflow_to_sample_mapping"], len(texts), combine)

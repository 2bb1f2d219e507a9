"""How a text longer than the max length is cut to fit: the same rule in training and in every serving variant."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np

# Sun et al. 2019 (How to Fine-Tune BERT for Text Classification) kept 128 head + 382 tail tokens of 512.
HEAD_SHARE = 0.25


class Truncation(StrEnum):
    HEAD = "head"  # keep the start
    HEAD_TAIL = "head_tail"  # keep the start and the end, drop the middle


def full_encodings(tokenizer: Any, texts: Sequence[Any]) -> Any:
    """Encodings with special tokens and without truncation (counting lengths, cutting head+tail)."""
    # Long texts are the point here: mark transformers' "longer than the maximum ... indexing errors" warning as
    # shown, so the run log does not alarm users (texts are cut before they reach the model).
    warned = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(warned, dict):
        warned["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tokenizer(list(texts), add_special_tokens=True, truncation=False)


def head_tail(seq: list[int], max_length: int) -> list[int]:
    """The first quarter and the last three quarters of the budget (keeps the leading and trailing special tokens)."""
    if len(seq) <= max_length:
        return seq
    head = max(1, int(max_length * HEAD_SHARE))
    return seq[:head] + seq[len(seq) - (max_length - head) :]


def encode(
    tokenizer: Any, texts: Sequence[Any], max_length: int, truncation: str = Truncation.HEAD
) -> tuple[dict[str, list[list[int]]], list[bool]]:
    """Unpadded encodings of at most `max_length` tokens, and which texts were cut.

    Text pairs (tuples) are always cut by the tokenizer's own rule: their two parts must both survive."""
    texts = list(texts)
    if truncation == Truncation.HEAD_TAIL and all(isinstance(t, str) for t in texts):
        full = full_encodings(tokenizer, texts)
        cut = [len(ids) > max_length for ids in full["input_ids"]]
        return {key: [head_tail(list(seq), max_length) for seq in full[key]] for key in full}, cut
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    encodings = getattr(enc, "encodings", None)
    cut = [bool(e.overflowing) for e in encodings] if encodings else [False] * len(texts)
    return {key: enc[key] for key in enc}, cut


def pad(features: dict[str, list[list[int]]], rows: Sequence[int], pad_id: int, tensor_type: str) -> dict[str, Any]:
    """Right-padded int64 arrays (or torch tensors) of the chosen rows, to their longest one."""
    longest = max(len(features["input_ids"][i]) for i in rows)
    out: dict[str, Any] = {}
    for key, seqs in features.items():
        fill = pad_id if key == "input_ids" else 0
        arr = np.full((len(rows), longest), fill, dtype=np.int64)
        for r, i in enumerate(rows):
            arr[r, : len(seqs[i])] = seqs[i]
        out[key] = arr
    if tensor_type == "pt":
        import torch

        out = {k: torch.from_numpy(v) for k, v in out.items()}
    return out

"""Characters <-> tokens for token classification, through the fast tokenizer's offsets, in overlapping windows.

A token is tagged B-X when it holds the first character of an entity X, I-X when it holds a later character of one,
O otherwise; special tokens and tokens of whitespace only are ignored (-100). Chinese pieces may span several
characters, so an entity boundary can fall inside a token: those entities are counted (`misaligned`) and the token
follows the entity it starts in. Predicted token tags go back to character spans through the same offsets, trimmed of
surrounding whitespace, so spans always land on characters of the original text (full-width forms and spaces too).
Texts longer than one window are cut into windows of `max_length` tokens overlapping by `stride`; a token seen in
several windows gets the mean of its probabilities. Tags are read as the most probable valid BIO sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm_trainer.ml.tasks.ner.tags import OUTSIDE, best_tag_path, tags_to_spans

IGNORE = -100
Span = tuple[int, int, str]


@dataclass
class Window:
    text_index: int
    input_ids: list[int]
    attention_mask: list[int]
    offsets: list[tuple[int, int] | None]  # character range of each token (whitespace trimmed), None = not a char
    labels: list[int] = field(default_factory=list)


def stride_for(max_length: int) -> int:
    """Overlap between consecutive windows: a quarter of the window, enough context on both sides of a cut."""
    return max(2, max_length // 4)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def encode_windows(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[Window]:
    """Every text as one or more windows of at most `max_length` tokens (special tokens included)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("NER needs a fast tokenizer (tokenizer.json) for character offsets")
    enc = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        stride=stride_for(max_length),
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    windows = []
    mapping = enc["overflow_to_sample_mapping"]
    for w, ids in enumerate(enc["input_ids"]):
        text = texts[mapping[w]]
        special = enc.encodings[w].special_tokens_mask
        offsets = [
            None if special[i] or s == e else _trim(text, s, e) for i, (s, e) in enumerate(enc["offset_mapping"][w])
        ]
        windows.append(Window(mapping[w], list(ids), list(enc["attention_mask"][w]), offsets))
    return windows


def label_windows(
    windows: list[Window], spans: Sequence[Sequence[Span]], texts: Sequence[str], label2id: dict[str, int]
) -> int:
    """Fill each window's token labels from its text's spans; returns how many entities a token boundary cuts."""
    owner: dict[int, list[int]] = {}  # text -> entity id per character (-1 none)
    starts: dict[int, list[int]] = {}
    cut: set[tuple[int, int]] = set()
    for w in windows:
        t = w.text_index
        if t not in owner:
            chars = [-1] * len(texts[t])
            for k, (s, e, _) in enumerate(spans[t]):
                for i in range(s, e):
                    chars[i] = k
            owner[t], starts[t] = chars, [s for s, _, _ in spans[t]]
        chars = owner[t]
        labels = []
        for off in w.offsets:
            if off is None:
                labels.append(IGNORE)
                continue
            s, e = off
            ids = [chars[i] for i in range(s, e) if chars[i] >= 0]
            if not ids:
                labels.append(label2id[OUTSIDE])
                continue
            k = ids[0]
            if len(set(ids)) > 1 or any(chars[i] != k for i in range(s, e)):
                cut.add((t, k))
            span = spans[t][k]
            begins = span[0] >= s  # the entity's first character is in this token
            labels.append(label2id[("B-" if begins else "I-") + span[2]])
        w.labels = labels
    return len(cut)


def decode(
    text_count: int, windows: list[Window], probs: Sequence[np.ndarray], id2label: Sequence[str]
) -> list[tuple[list[Span], list[float]]]:
    """Per text: (spans, their scores) from per-window token probabilities [tokens, labels]."""
    per_text: list[dict[tuple[int, int], list[np.ndarray]]] = [{} for _ in range(text_count)]
    for w, p in zip(windows, probs, strict=True):
        for off, row in zip(w.offsets, p, strict=False):
            if off is not None:
                per_text[w.text_index].setdefault(off, []).append(row)
    out = []
    for tokens in per_text:
        ordered = sorted(tokens.items())
        if not ordered:
            out.append(([], []))
            continue
        mean = [np.mean(rows, axis=0) for _, rows in ordered]
        best = best_tag_path(np.stack(mean), id2label)
        tags = [id2label[b] for b in best]
        offsets = [off for off, _ in ordered]
        # Token positions -> spans; scores averaged over the entity's tokens.
        pos_spans = tags_to_spans(tags)
        spans, scores = [], []
        for ps, pe, kind in pos_spans:
            spans.append((offsets[ps][0], offsets[pe - 1][1], kind))
            scores.append(float(np.mean([mean[i][best[i]] for i in range(ps, pe)])))
        out.append((spans, scores))
    return out


@dataclass
class CharProbs:
    """One text's tag probabilities per character a token covers: `positions` [n] character offsets (ascending),
    `probs` [n, labels], `share` [n] one over the characters of the token holding each one (so a token's evidence can
    be counted once, not once per character). Characters no token covers (spaces) are left out, so an entity runs
    across them as it does at token level."""

    positions: np.ndarray
    probs: np.ndarray
    share: np.ndarray


def _continuation(id2label: Sequence[str]) -> np.ndarray:
    """Label index -> the label a later character of the same token takes: B-X -> I-X, every other label itself."""
    index = {name: i for i, name in enumerate(id2label)}
    return np.array([index.get("I-" + name[2:], i) if name.startswith("B-") else i for i, name in enumerate(id2label)])


def char_probs(
    texts: Sequence[str], windows: list[Window], probs: Sequence[np.ndarray], id2label: Sequence[str]
) -> list[CharProbs]:
    """Token probabilities -> per-character probabilities: a token's first character gets its distribution, its later
    characters the same with each B-X's share moved to I-X (they continue what the token starts); a character seen in
    several windows gets the mean. Other character-level models (the CRF) can then be combined with it."""
    continuation = _continuation(id2label)
    sums = [np.zeros((len(t), len(id2label))) for t in texts]
    shares = [np.zeros(len(t)) for t in texts]
    counts = [np.zeros(len(t)) for t in texts]
    for w, p in zip(windows, probs, strict=True):
        acc, share, seen = sums[w.text_index], shares[w.text_index], counts[w.text_index]
        for off, row in zip(w.offsets, p, strict=False):
            if off is None:
                continue
            s, e = off
            acc[s] += row
            if e > s + 1:
                acc[s + 1 : e] += np.bincount(continuation, weights=row, minlength=len(row))
            share[s:e] += 1.0 / (e - s)
            seen[s:e] += 1
    out = []
    for acc, share, seen in zip(sums, shares, counts, strict=True):
        at = np.flatnonzero(seen)
        out.append(CharProbs(at, acc[at] / seen[at, None], share[at] / seen[at]))
    return out


def char_spans(
    chars: CharProbs, path: Sequence[int], confidence: np.ndarray, id2label: Sequence[str]
) -> tuple[list[Span], list[float]]:
    """Spans on the original characters from a tag path over `chars.positions`, each scored by the mean `confidence`
    ([positions, labels]) of its tags."""
    spans, scores = [], []
    for ps, pe, kind in tags_to_spans([id2label[b] for b in path]):
        spans.append((int(chars.positions[ps]), int(chars.positions[pe - 1]) + 1, kind))
        scores.append(float(np.mean([confidence[i, path[i]] for i in range(ps, pe)])))
    return spans, scores

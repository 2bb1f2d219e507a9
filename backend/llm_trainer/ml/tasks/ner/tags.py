"""Entity spans <-> per-position tags (BIO, BIOES, BMES), the one place tag schemes are read and written.

A span is `(start, end, label)` over characters of the original text, end exclusive (`text[start:end]`).
Decoding follows seqeval's default (conlleval) semantics: an I-/M-/E- tag that does not continue an entity of the
same type starts a new one, so a model's stray tag still yields an entity rather than vanishing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

Span = tuple[int, int, str]
OUTSIDE = "O"
_TAG = re.compile(r"^([BIMESL])[-_](.+)$")
_TAG_SUFFIX = re.compile(r"^(.+)[-_]([BIMES])$")
# Scheme prefixes -> the role they play: begin, inside, end, single.
ROLES = {"B": "begin", "I": "inside", "M": "inside", "E": "end", "S": "single", "L": "end", "U": "single"}


def parse_tag(tag: str) -> tuple[str, str] | None:
    """('begin'|'inside'|'end'|'single', type) of a tag like B-PER, I_ORG, S-LOC, PER-B; None for O."""
    tag = tag.strip()
    if not tag or tag.upper() == OUTSIDE:
        return None
    m = _TAG.match(tag)
    if m:
        return ROLES[m.group(1)], m.group(2)
    m = _TAG_SUFFIX.match(tag)
    if m:
        return ROLES[m.group(2)], m.group(1)
    return None


def is_valid_tag(tag: str) -> bool:
    return tag.strip().upper() == OUTSIDE or parse_tag(tag) is not None


def detect_scheme(tags: Sequence[str]) -> str:
    """BIO, BIOES or BMES from the prefixes a file uses."""
    prefixes = {t.strip()[0] for t in tags if t.strip() and t.strip().upper() != OUTSIDE}
    if "M" in prefixes:
        return "BMES"
    if prefixes & {"E", "S", "L", "U"}:
        return "BIOES"
    return "BIO"


def tags_to_spans(
    tags: Sequence[str | None], starts: Sequence[int] | None = None, ends: Sequence[int] | None = None
) -> list[Span]:
    """Spans from one tag per position (any scheme); `starts`/`ends` map positions to character offsets
    (default: position i covers character i)."""
    spans: list[Span] = []
    current: list | None = None  # [start position, last position, type]

    def close() -> None:
        nonlocal current
        if current is not None:
            s, e = current[0], current[1]
            spans.append((starts[s] if starts else s, ends[e] if ends else e + 1, current[2]))
            current = None

    for i, tag in enumerate(tags):
        parsed = parse_tag(tag) if tag else None
        if parsed is None:
            close()
            continue
        role, kind = parsed
        continues = current is not None and current[2] == kind and role in ("inside", "end")
        if continues:
            current[1] = i  # type: ignore[index]
        else:
            close()
            current = [i, i, kind]
        if role in ("end", "single"):
            close()
    close()
    return spans


def spans_to_bio(length: int, spans: Sequence[Span]) -> list[str]:
    """One BIO tag per character (spans must not overlap)."""
    tags = [OUTSIDE] * length
    for start, end, label in spans:
        for i in range(start, min(end, length)):
            tags[i] = ("B-" if i == start else "I-") + label
    return tags


def summary(spans: Sequence[Span]) -> str:
    """Short display label of a text's entities: 'company,name×2' (types sorted); '' when there are none."""
    counts: dict[str, int] = {}
    for _, _, label in spans:
        counts[label] = counts.get(label, 0) + 1
    return ",".join(k if n == 1 else f"{k}×{n}" for k, n in sorted(counts.items()))


def bio_labels(types: Sequence[str]) -> list[str]:
    """The token-classification label set: O, then B-/I- per type (in `types` order)."""
    return [OUTSIDE, *(f"{p}-{t}" for t in types for p in ("B", "I"))]


def allowed_transitions(id2label: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(may follow [previous, next], may start [next]) for a B-/I- label set: I-X only continues B-X or I-X."""
    parsed = [parse_tag(t) for t in id2label]
    follows = np.ones((len(parsed), len(parsed)), dtype=bool)
    for j, tag in enumerate(parsed):
        if tag is not None and tag[0] == "inside":
            follows[:, j] = [p is not None and p[1] == tag[1] and p[0] in ("begin", "inside") for p in parsed]
    starts = np.array([p is None or p[0] != "inside" for p in parsed])
    return follows, starts


def best_path(scores: np.ndarray, id2label: Sequence[str], transitions: np.ndarray | None = None) -> list[int]:
    """The highest-scoring tag sequence (Viterbi over per-position scores [positions, labels], plus
    `transitions[previous, next]` when given) with no I-X that does not continue an X."""
    follows, starts = allowed_transitions(id2label)
    moves = np.where(follows, 0.0 if transitions is None else transitions, -np.inf)
    best = scores[0] + np.where(starts, 0.0, -np.inf)
    back = []
    for row in scores[1:]:
        candidates = best[:, None] + moves
        came_from = candidates.argmax(axis=0)
        best = candidates[came_from, np.arange(len(row))] + row
        back.append(came_from)
    path = [int(best.argmax())]
    for came_from in reversed(back):
        path.append(int(came_from[path[-1]]))
    return path[::-1]


def best_tag_path(probs: np.ndarray, id2label: Sequence[str]) -> list[int]:
    """The most probable valid BIO sequence from per-token probabilities [tokens, labels]: a tagger without a CRF
    layer otherwise cuts entities into pieces."""
    return best_path(np.log(np.clip(probs, 1e-12, None)), id2label)

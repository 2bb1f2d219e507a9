"""Training data preparation: label mapping, stratified train/validation split, tokenisation with auto max length."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

VALIDATION_SPLIT_NAMES = frozenset({"validation", "valid", "val", "dev", "test", "eval"})


@dataclass
class Split:
    """Texts and string labels of the training and validation parts."""

    train_texts: list[str]
    train_labels: list[str]
    val_texts: list[str]
    val_labels: list[str]
    labels: list[str] = field(default_factory=list)

    @property
    def val_size(self) -> int:
        return len(self.val_texts)


def label_order(labels: Sequence[str]) -> list[str]:
    """Distinct labels in a stable order: numeric order when every label is an integer, else lexical."""
    distinct = set(labels)
    if all(_is_int(x) for x in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def hold_out(items: Sequence[tuple[T, str | None]], config: Any, what: str) -> tuple[list[T], list[T]]:
    """(training, validation) parts of (item, split mark) pairs: the marks (validation_source=dataset) or a seeded
    random `validation_ratio` of the items (at least one; not stratified); ValueError naming `what` if one is empty."""
    if config.validation_source == "dataset":
        train = [x for x, s in items if (s or "").lower() not in VALIDATION_SPLIT_NAMES]
        val = [x for x, s in items if (s or "").lower() in VALIDATION_SPLIT_NAMES]
        fix = f"mark some {what} as validation or use validation_source=split"
    else:
        from sklearn.model_selection import train_test_split

        xs = [x for x, _ in items]
        n_val = max(1, round(len(xs) * config.validation_ratio))
        train, val = (
            train_test_split(xs, test_size=n_val, random_state=config.seed, shuffle=True)
            if len(xs) > n_val
            else (xs, [])
        )
        fix = f"add {what}"
    if not train or not val:
        raise ValueError(f"too few {what} for a training and a validation part; {fix}")
    return list(train), list(val)


def split_rows(rows: Sequence[tuple[str, str, str | None]], *, source: str, ratio: float, seed: int) -> Split:
    """Split (text, label, split) rows: stratified by label with `ratio` held out, or by the rows' own split marks."""
    if source == "dataset":
        train = [(t, lbl) for t, lbl, s in rows if (s or "").lower() not in VALIDATION_SPLIT_NAMES]
        val = [(t, lbl) for t, lbl, s in rows if (s or "").lower() in VALIDATION_SPLIT_NAMES]
        if not val or not train:
            raise ValueError(
                "the dataset has no rows marked as validation (or no training rows); use validation_source=split"
            )
    else:
        from sklearn.model_selection import train_test_split

        counts = Counter(lbl for _, lbl, _ in rows)
        rare = sorted(lbl for lbl, n in counts.items() if n < 2)
        if rare:
            raise ValueError(f"labels with fewer than 2 rows cannot be split stratified: {rare}; add rows or drop them")
        n_val = max(round(len(rows) * ratio), len(counts))
        if len(rows) - n_val < len(counts):
            raise ValueError("too few rows to hold out a validation split with every label; add rows")
        pairs = [(t, lbl) for t, lbl, _ in rows]
        train, val = train_test_split(
            pairs, test_size=n_val, stratify=[lbl for _, lbl in pairs], random_state=seed, shuffle=True
        )
    labels = label_order([lbl for _, lbl in train] + [lbl for _, lbl in val])
    return Split(
        train_texts=[t for t, _ in train],
        train_labels=[lbl for _, lbl in train],
        val_texts=[t for t, _ in val],
        val_labels=[lbl for _, lbl in val],
        labels=labels,
    )


def model_length_limit(tokenizer: Any, model_config: Any) -> int:
    """Longest input the model accepts: position table size (minus RoBERTa's offset) and the tokenizer's own cap."""
    limits = []
    positions = getattr(model_config, "max_position_embeddings", None)
    if positions:
        offset = 2 if getattr(model_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert") else 0
        limits.append(positions - offset)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if tok_max and tok_max < 100_000:
        limits.append(int(tok_max))
    return min(limits) if limits else 512


def token_lengths(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Token count of each text including special tokens, without truncation."""
    from llm_trainer.ml.truncation import full_encodings

    return [len(ids) for ids in full_encodings(tokenizer, texts)["input_ids"]]


# A text cut to its first quarter and last three quarters of this many tokens keeps most of what decides its label;
# on a CPU, where a step's cost grows with the square of the length, the automatic max length stops here.
HEAD_TAIL_ENOUGH = 128


# Multi-label runs read every training text whole (a label can rest on any sentence); on a CPU up to this many tokens.
WHOLE_TEXT_CPU_CAP = 256


def choose_max_length(
    lengths: Sequence[int], limit: int, requested: int | None, auto_cap: int | None = None, coverage: float = 0.95
) -> int:
    """`requested` capped at `limit`, or the length that reads `coverage` of the texts whole (the 95th percentile by
    default, 1.0 = the longest), rounded up to a multiple of 8 (at most `auto_cap`)."""
    if requested:
        return min(requested, limit)
    limit = min(limit, auto_cap) if auto_cap else limit
    if not lengths:
        return min(128, limit)
    ordered = sorted(lengths)
    covered = ordered[min(len(ordered) - 1, int(coverage * len(ordered)))]
    return max(8, min(limit, -(-covered // 8) * 8))


def truncation_share(lengths: Sequence[int], max_length: int) -> float:
    """Share of texts longer than `max_length` tokens."""
    return sum(n > max_length for n in lengths) / len(lengths) if lengths else 0.0


class EncodedDataset:
    """A list of unpadded encodings (padding happens per batch in the collator, to the batch's longest text)."""

    def __init__(
        self, tokenizer: Any, texts: Sequence[str], label_ids: Sequence[int], max_length: int, truncation: str = "head"
    ):
        from llm_trainer.ml.truncation import encode

        enc, _ = encode(tokenizer, texts, max_length, truncation)
        self.items = [
            {"input_ids": ids, "attention_mask": mask, "labels": y if isinstance(y, list) else int(y)}
            for ids, mask, y in zip(enc["input_ids"], enc["attention_mask"], label_ids, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]

    @property
    def label_ids(self) -> list[int]:
        return [item["labels"] for item in self.items]


def class_weights(label_ids: Sequence[int], num_labels: int) -> list[float]:
    """Inverse-frequency weights normalised to mean 1 (absent classes get weight 1)."""
    counts = Counter(label_ids)
    total = len(label_ids)
    raw = [total / (num_labels * counts[i]) if counts[i] else 1.0 for i in range(num_labels)]
    mean = sum(raw) / num_labels
    return [w / mean for w in raw]

"""Clean and check labelled rows one at a time, then summarise them in a validation report.

Rows stream through `DatasetValidator.add`, so memory stays small: duplicates are found through a dict of 64-bit
text hashes (no texts kept), lengths go into a compact array.
"""

from __future__ import annotations

import hashlib
import unicodedata
from array import array
from collections import Counter
from typing import Any

import numpy as np

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.columns import SPLITS, ColumnChoice, normalize_split

MAX_LABELS = 1000  # more distinct values means the label column is almost surely the wrong one
LABEL_BITS = 20  # the seen-texts dict packs (first row idx, label id) into one int
LABEL_MASK = (1 << LABEL_BITS) - 1
IMBALANCE_RATIO = 10
MIN_CLASS_EXAMPLES = 10
MAX_EXAMPLES = 20  # conflicts / bad rows listed in the report
HISTOGRAM_BINS = 20
EXAMPLE_CHARS = 200

# A cleaned row: (idx in file, text, label, split, conflict)
CleanRow = tuple[int, str, str, "str | None", bool]


def normalize_label(raw: str) -> str:
    """Label as it should be compared: NFKC (full-width letters, digits and spaces become ASCII), trimmed."""
    return unicodedata.normalize("NFKC", raw).strip()


RARE_LABEL_EXAMPLES = 10


class RowTally:
    """What every validator of labelled rows keeps: kept and dropped rows, `_seen` (text hash -> its first row),
    `_conflicts` (texts seen with different annotations: kept for review, left out of training and of `_counts`),
    label counts, lengths and the content hash. Tasks add their checks and their own report section."""

    def __init__(self) -> None:
        self.rows_read = 0
        self.rows_kept = 0
        self.dropped = {"empty_text": 0, "empty_label": 0, "duplicate": 0, "malformed": 0}
        self._malformed_rows: list[int] = []
        self._seen: dict[int, Any] = {}  # hash(text) -> the first row and its annotation, as each task packs them
        self._conflicts: dict[int, dict[str, Any]] = {}
        self.conflict_rows = 0
        self._counts: Counter[str] = Counter()
        self._per_text: Counter[int] = Counter()
        self._split_counts = dict.fromkeys(SPLITS, 0)
        self._lengths = array("I")
        self._sha = hashlib.sha256()

    def _malformed(self, idx: int) -> None:
        self.dropped["malformed"] += 1
        if len(self._malformed_rows) < MAX_EXAMPLES:
            self._malformed_rows.append(idx)

    def label_counts(self) -> dict[str, int]:
        return dict(sorted(((k, v) for k, v in self._counts.items() if v > 0), key=lambda p: (-p[1], p[0])))

    @property
    def content_hash(self) -> str:
        """sha256 of the kept, normalised (text, annotation) rows in file order: identifies the data for lineage."""
        return self._sha.hexdigest()

    @property
    def conflict_first_idxs(self) -> list[int]:
        """File idx of the first row of each conflicting text: it was stored before the conflict showed up."""
        return [c["first_idx"] for c in self._conflicts.values()]

    def _require_rows(self, columns: str) -> None:
        """Refuse a file of which no row was kept, naming the `columns` to fill."""
        if self.rows_kept == 0:
            raise InvalidInput(
                f"No usable rows: {self.rows_read} rows read, all empty, unlabelled or malformed. Check that the "
                f"{columns} are filled.",
                code="empty_dataset",
                details={"rows_read": self.rows_read, "dropped": self.dropped},
            )

    def _shared_warnings(self, counts: dict[str, int], what: str, annotations: str) -> list[dict[str, Any]]:
        """Rare labels (`what`: "label(s)", "entity type(s)") and texts seen with different `annotations`."""
        warnings = []
        rare = {k: v for k, v in counts.items() if v < RARE_LABEL_EXAMPLES}
        if rare:
            warnings.append(few_examples_warning("rare_labels", rare, what, RARE_LABEL_EXAMPLES))
        if self._conflicts:
            warnings.append(conflict_warning(len(self._conflicts), self.conflict_rows, annotations))
        return warnings

    def _report(
        self,
        counts: dict[str, int],
        examples: list[dict[str, Any]],
        has_split: bool,
        warnings: list[dict[str, Any]],
        labels_normalised: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The keys every validation report has; the caller adds its task's section."""
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "trainable_rows": self.rows_kept - self.conflict_rows,
            "dropped": dict(self.dropped),
            "malformed_rows": self._malformed_rows,
            "conflicts": {"texts": len(self._conflicts), "rows": self.conflict_rows, "examples": examples},
            "labels_normalised": labels_normalised or [],
            "label_counts": counts,
            "split_counts": {k: v for k, v in self._split_counts.items() if v} if has_split else {},
            "text_length": length_stats(self._lengths),
            "warnings": warnings,
        }


class DatasetValidator(RowTally):
    """Accumulates statistics over rows; `add` returns the cleaned row to store, or None when it is dropped."""

    def __init__(self, choice: ColumnChoice):
        if choice.label_index is None:
            raise ValueError("a labelled dataset needs a label column")
        self._choice = choice
        super().__init__()
        self._ncols_needed = 1 + max(choice.text_index, choice.label_index)
        self._raw_label_ids: dict[str, int] = {}  # raw cell -> label id (-1: empty)
        self._label_ids: dict[str, int] = {}  # normalised label -> id
        self._labels: list[str] = []
        self._label_counts: list[int] = []  # trainable rows per label id
        self._label_changes: list[dict[str, str]] = []
        self._split_cache: dict[str, str | None] = {}
        self._unknown_splits: dict[str, int] = {}

    def add(self, cells: list[str]) -> CleanRow | None:
        """Clean one row of cells; None when it is dropped (counted in the report)."""
        idx = self.rows_read
        self.rows_read += 1
        choice = self._choice
        if len(cells) < self._ncols_needed:
            return self._malformed(idx)
        text = cells[choice.text_index].strip()
        if not text:
            self.dropped["empty_text"] += 1
            return None
        raw_label = cells[choice.label_index]  # type: ignore[index]
        lid = self._raw_label_ids.get(raw_label)
        if lid is None:
            lid = self._new_raw_label(raw_label)
        if lid < 0:
            self.dropped["empty_label"] += 1
            return None
        h = hash(text)
        prev = self._seen.get(h)
        conflict = False
        if prev is None:
            self._seen[h] = (idx << LABEL_BITS) | lid  # one int a row: (first idx, label id)
        elif h in self._conflicts:
            seen_labels = self._conflicts[h]["labels"]
            if lid in seen_labels:
                self.dropped["duplicate"] += 1
                return None
            seen_labels.append(lid)
            conflict = True
        elif prev & LABEL_MASK == lid:
            self.dropped["duplicate"] += 1
            return None
        else:
            conflict = self._new_conflict(h, text, prev, lid)
        split = None
        if choice.split_index is not None and choice.split_index < len(cells):  # a missing last cell is no split
            split = self._split(cells[choice.split_index])
        label = self._labels[lid]
        self.rows_kept += 1
        self._lengths.append(len(text))
        if conflict:
            self.conflict_rows += 1
        else:
            self._label_counts[lid] += 1
        if split is not None:
            self._split_counts[split] += 1
        self._sha.update(f"{text}\t{label}\n".encode())
        return (idx, text, label, split, conflict)

    def label_counts(self) -> dict[str, int]:
        """Trainable rows per label, most frequent first."""
        pairs = [(self._labels[i], n) for i, n in enumerate(self._label_counts) if n > 0]
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    def finish(self) -> dict[str, Any]:
        """The validation report; raises `empty_dataset` or `too_few_labels` when the data cannot train a model."""
        self._require_rows("text and label columns")
        counts = self.label_counts()
        if len(counts) < 2:
            raise InvalidInput(
                f"Found {len(counts)} label(s) ({', '.join(counts) or 'none'}); a classifier needs at least 2 "
                f"different labels in column '{self._choice.label}'. Check the label column or add examples of "
                "other classes.",
                code="too_few_labels",
                details={"labels": counts, "label_column": self._choice.label},
            )
        examples = [
            {"text": c["text"], "labels": [self._labels[i] for i in c["labels"]], "first_idx": c["first_idx"]}
            for c in list(self._conflicts.values())[:MAX_EXAMPLES]
        ]
        has_split = self._choice.split_index is not None
        return self._report(counts, examples, has_split, self._warnings(counts), self._label_changes[:MAX_EXAMPLES])

    def _new_raw_label(self, raw: str) -> int:
        label = normalize_label(raw)
        if not label:
            self._raw_label_ids[raw] = -1
            return -1
        lid = self._label_ids.get(label)
        if lid is None:
            if len(self._labels) >= MAX_LABELS:
                raise InvalidInput(
                    f"The label column '{self._choice.label}' has more than {MAX_LABELS} different values, so it is "
                    "probably not a label column. Choose the right one with the label_column field.",
                    code="too_many_labels",
                    details={"label_column": self._choice.label, "max_labels": MAX_LABELS},
                )
            lid = len(self._labels)
            self._label_ids[label] = lid
            self._labels.append(label)
            self._label_counts.append(0)
        if label != raw:
            self._label_changes.append({"original": raw, "normalised": label})
        self._raw_label_ids[raw] = lid
        return lid

    def _new_conflict(self, h: int, text: str, prev: int, lid: int) -> bool:
        """Same text, another label: both rows stay visible but leave training; the first one's count is undone."""
        first_lid, first_idx = prev & LABEL_MASK, prev >> LABEL_BITS
        self._conflicts[h] = {"text": text[:EXAMPLE_CHARS], "labels": [first_lid, lid], "first_idx": first_idx}
        self._label_counts[first_lid] -= 1
        self.conflict_rows += 1  # the first row, stored earlier, becomes a conflict row too
        return True

    def _split(self, raw: str) -> str | None:
        split = self._split_cache.get(raw, "?")
        if split == "?":
            split = self._split_cache[raw] = normalize_split(raw)
        if split is None and raw.strip():
            self._unknown_splits[raw] = self._unknown_splits.get(raw, 0) + 1
        return split

    def _warnings(self, counts: dict[str, int]) -> list[dict[str, Any]]:
        warnings: list[dict[str, Any]] = []
        largest, smallest = max(counts.values()), min(counts.values())
        if smallest and largest / smallest > IMBALANCE_RATIO:
            warnings.append(
                issue(
                    "class_imbalance",
                    f"Classes are imbalanced: the largest has {largest} rows, the smallest {smallest} "
                    f"({largest / smallest:.1f}x). Add examples of rare classes; accuracy alone will look better than "
                    "the model is.",
                    ratio=round(largest / smallest, 2),
                    largest=largest,
                    smallest=smallest,
                )
            )
        small = {k: v for k, v in counts.items() if v < MIN_CLASS_EXAMPLES}
        if small:
            warnings.append(few_examples_warning("small_classes", small, "class(es)", MIN_CLASS_EXAMPLES))
        if self._conflicts:
            warnings.append(conflict_warning(len(self._conflicts), self.conflict_rows, "labels"))
        if self.dropped["malformed"]:
            warnings.append(
                issue(
                    "malformed_rows",
                    f"{self.dropped['malformed']} row(s) had fewer cells than the header and were dropped. Quote "
                    "texts that contain the delimiter.",
                    rows=self._malformed_rows,
                )
            )
        if self._unknown_splits:
            warnings.append(
                issue(
                    "unknown_split_values",
                    f"Split column '{self._choice.split}' has values other than train/validation/test "
                    f"({', '.join(list(self._unknown_splits)[:5])}); those rows get no split.",
                    values=dict(list(self._unknown_splits.items())[:MAX_EXAMPLES]),
                )
            )
        return warnings


def issue(code: str, message: str, **details: Any) -> dict[str, Any]:
    """A report warning: stable code for the UI, English message, details."""
    return {"code": code, "message": message, "details": details}


def few_examples_warning(code: str, few: dict[str, int], what: str, minimum: int) -> dict[str, Any]:
    """The labels in `few` (`what`: "class(es)", "entity type(s)"...) have fewer than `minimum` examples."""
    return issue(
        code,
        f"{len(few)} {what} have fewer than {minimum} examples ({', '.join(few)}); the model will hardly learn them. "
        "Add examples.",
        labels=few,
    )


def conflict_warning(texts: int, rows: int, annotations: str) -> dict[str, Any]:
    """`texts` texts were seen with different `annotations` ("labels", "entities"...) in `rows` rows."""
    return issue(
        "label_conflicts",
        f"{texts} text(s) appear with different {annotations}; their {rows} rows are kept for review but left out "
        f"of training. Fix the {annotations} in the file.",
        texts=texts,
        rows=rows,
    )


def length_stats(lengths: array) -> dict[str, Any]:
    """Text length in characters: min, mean, median, p95, max and a histogram of equal integer-width bins."""
    if not len(lengths):
        return {"min": 0, "mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0, "histogram": []}
    a = np.frombuffer(lengths, dtype=np.uint32)
    # A handful of very long texts would squash every other bar into the first bin: the range stops at p99 and
    # the last bin holds everything longer.
    top = int(np.ceil(np.percentile(a, 99)))
    width = max(1, -(-(top + 1) // HISTOGRAM_BINS))
    nbins = -(-(top + 1) // width)
    counts = np.bincount(np.minimum(a // width, nbins - 1), minlength=nbins)
    bins = [{"start": i * width, "end": (i + 1) * width - 1, "count": int(c)} for i, c in enumerate(counts)]
    bins[-1]["end"] = int(a.max())
    return {
        "min": int(a.min()),
        "mean": round(float(a.mean()), 2),
        # Percentiles interpolate (380.75000000000017): lengths are whole characters, so show one decimal at most.
        "median": round(float(np.median(a)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "max": int(a.max()),
        "histogram": bins,
    }

"""What the validators of annotated rows (multi-label, NER) share: row tallies, conflict bookkeeping, label counts,
the content hash and the report's common keys. Each task adds its own checks and its own report section."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from typing import Any

from llm_trainer.datafiles.columns import SPLITS
from llm_trainer.datafiles.validate import MAX_EXAMPLES, issue, length_stats

RARE_LABEL_EXAMPLES = 10


class AnnotationTally:
    """Counts kept and dropped rows; `_seen` maps a text hash to its first row, `_conflicts` the texts seen with
    different annotations (kept for review, left out of training and of `_counts`)."""

    def __init__(self) -> None:
        self.rows_read = 0
        self.rows_kept = 0
        self.dropped = {"empty_text": 0, "empty_label": 0, "duplicate": 0, "malformed": 0}
        self._malformed_rows: list[int] = []
        self._seen: dict[int, tuple[int, Any]] = {}
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
        return self._sha.hexdigest()

    @property
    def conflict_first_idxs(self) -> list[int]:
        return [c["first_idx"] for c in self._conflicts.values()]

    def _shared_warnings(self, counts: dict[str, int], what: str, annotations: str) -> list[dict[str, Any]]:
        """Rare labels (`what`: "label(s)", "entity type(s)") and texts seen with different `annotations`."""
        warnings = []
        rare = {k: v for k, v in counts.items() if v < RARE_LABEL_EXAMPLES}
        if rare:
            warnings.append(
                issue(
                    "rare_labels",
                    f"{len(rare)} {what} have fewer than {RARE_LABEL_EXAMPLES} examples ({', '.join(rare)}); the "
                    "model will hardly learn them. Add examples.",
                    labels=rare,
                )
            )
        if self._conflicts:
            warnings.append(
                issue(
                    "label_conflicts",
                    f"{len(self._conflicts)} text(s) appear with different {annotations}; their {self.conflict_rows} "
                    f"rows are kept for review but left out of training. Fix the {annotations} in the file.",
                    texts=len(self._conflicts),
                    rows=self.conflict_rows,
                )
            )
        return warnings

    def _report(
        self, counts: dict[str, int], examples: list[dict[str, Any]], has_split: bool, warnings: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The keys every validation report has; the caller adds its task's section."""
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "trainable_rows": self.rows_kept - self.conflict_rows,
            "dropped": dict(self.dropped),
            "malformed_rows": self._malformed_rows,
            "conflicts": {"texts": len(self._conflicts), "rows": self.conflict_rows, "examples": examples},
            "labels_normalised": [],
            "label_counts": counts,
            "split_counts": {k: v for k, v in self._split_counts.items() if v} if has_split else {},
            "text_length": length_stats(self._lengths),
            "warnings": warnings,
        }

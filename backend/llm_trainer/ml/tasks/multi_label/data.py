"""Multi-label files: `text,labels` joined by a detected separator, JSON lists, or one 0/1 column per label (wide).

The report adds `multi_label`: the form and separator found, labels per text, label co-occurrence, rare labels.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.columns import (
    LABEL_NAMES,
    SPLIT_NAMES,
    TEXT_NAMES,
    ColumnChoice,
    normalize_split,
    resolve_column,
)
from llm_trainer.datafiles.reader import open_table
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.datafiles.validate import MAX_EXAMPLES, RARE_LABEL_EXAMPLES, RowTally, normalize_label
from llm_trainer.ml.tasks.classification.data import table_source
from llm_trainer.ml.tasks.spec import Ingest

MULTI_LABEL_NAMES = ("labels", *LABEL_NAMES, "aspects", "tags", "标签们", "多标签")
SEPARATORS = ("|", "，", "、", ";", "；", ",")  # tried in this order when counts tie: "|" is the least ambiguous
SAMPLE_ROWS = 500
BINARY_VALUES = {"0", "1", "0.0", "1.0", "true", "false", ""}
# A label column is a list of labels when this share of its cells (and at least two) holds several.
LIST_CELL_SHARE = 0.02
TOP_PAIRS = 30
DISPLAY_JOIN = "|"


def detect_separator(cells: list[str]) -> str | None:
    """The separator most label cells contain (None: every cell holds one label)."""
    counts = {sep: sum(sep in c for c in cells) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: (counts[sep], -SEPARATORS.index(sep)))
    return best if counts[best] else None


def wide_columns(table: Any, exclude: set[str]) -> list[str]:
    """Columns whose sampled values are all 0/1 (the wide form: one column per label)."""
    return binary_columns(table.columns, list(itertools.islice(table.rows(), SAMPLE_ROWS)), exclude)


def binary_columns(header: list[str], rows: list[list[str]], exclude: set[str]) -> list[str]:
    columns = [c for c in header if c not in exclude]
    values: dict[str, set[str]] = {c: set() for c in columns}
    for cells in rows:
        for c in columns:
            i = header.index(c)
            values[c].add(cells[i].strip().lower() if i < len(cells) else "")
    return [c for c in columns if values[c] and values[c] <= BINARY_VALUES and values[c] - {""}]


def recognise_multi_label(sample: FileSample) -> list[str] | None:
    """[label column] when its cells list several labels (separated or JSON lists), or the 0/1 columns of the wide
    form; a label column holding one label per text is single-label classification's."""
    text = sample.named(TEXT_NAMES)
    if text is None:
        return None
    label = sample.named(MULTI_LABEL_NAMES, exclude=(text,))
    if label is None:
        wide = binary_columns(sample.columns, sample.rows, {text})
        return wide if len(wide) >= 2 else None
    cells = [c.strip() for c in sample.column(label) if c.strip()]
    several = sum(c.startswith("[") or any(sep in c for sep in SEPARATORS) for c in cells)
    return [label] if several >= max(2, LIST_CELL_SHARE * len(cells)) else None


class MultiLabelValidator(RowTally):
    """Cleans (text, label set) rows; duplicates with the same set are dropped, with another set are conflicts."""

    def __init__(self, text_index: int, split_index: int | None, parse: Any, label_column: str):
        super().__init__()
        self._text_index, self._split_index, self._parse = text_index, split_index, parse
        self._label_column = label_column
        self._pairs: Counter[tuple[str, str]] = Counter()

    def add(self, cells: list[str]) -> tuple | None:
        idx = self.rows_read
        self.rows_read += 1
        if len(cells) <= self._text_index:
            return self._malformed(idx)
        text = cells[self._text_index].strip()
        if not text:
            self.dropped["empty_text"] += 1
            return None
        labels = self._parse(cells)
        if labels is None:
            self.dropped["empty_label"] += 1
            return None
        labels = sorted(set(labels))
        key, h = frozenset(labels), hash(text)
        prev = self._seen.get(h)
        conflict = False
        if prev is None:
            self._seen[h] = (idx, key)
        elif prev[1] == key and h not in self._conflicts:
            self.dropped["duplicate"] += 1
            return None
        else:
            conflict = True
            if h not in self._conflicts:
                self._conflicts[h] = {"text": text[:200], "labels": [sorted(prev[1])], "first_idx": prev[0]}
                self._untrain(prev[1])
                self.conflict_rows += 1
            if sorted(key) in self._conflicts[h]["labels"]:
                self.dropped["duplicate"] += 1
                return None
            self._conflicts[h]["labels"].append(labels)
        split = None
        if self._split_index is not None and self._split_index < len(cells):
            split = normalize_split(cells[self._split_index])
        self.rows_kept += 1
        self._lengths.append(len(text))
        if split is not None:
            self._split_counts[split] += 1
        if conflict:
            self.conflict_rows += 1
        else:
            self._train(labels)
        self._sha.update(f"{text}\t{DISPLAY_JOIN.join(labels)}\n".encode())
        return (idx, text, DISPLAY_JOIN.join(labels), split, conflict, None, json.dumps(labels, ensure_ascii=False))

    def _train(self, labels: list[str]) -> None:
        self._counts.update(labels)
        self._per_text[len(labels)] += 1
        self._pairs.update(itertools.combinations(labels, 2))

    def _untrain(self, labels: frozenset[str]) -> None:
        ordered = sorted(labels)
        self._counts.subtract(ordered)
        self._per_text[len(ordered)] -= 1
        self._pairs.subtract(itertools.combinations(ordered, 2))

    def finish(self) -> dict[str, Any]:
        self._require_rows("text and labels columns")
        counts = self.label_counts()
        if len(counts) < 2:
            raise InvalidInput(
                f"Found {len(counts)} label(s) ({', '.join(counts) or 'none'}); multi-label training needs at least 2 "
                f"different labels in '{self._label_column}'. Check the labels column and its separator.",
                code="too_few_labels",
                details={"labels": counts},
            )
        trainable = self.rows_kept - self.conflict_rows
        rare = {k: v for k, v in counts.items() if v < RARE_LABEL_EXAMPLES}
        examples = [
            {"text": c["text"], "labels": [DISPLAY_JOIN.join(ls) for ls in c["labels"]], "first_idx": c["first_idx"]}
            for c in list(self._conflicts.values())[:MAX_EXAMPLES]
        ]
        warnings = self._shared_warnings(counts, "label(s)", "label sets")
        pairs = [{"labels": list(p), "count": n} for p, n in self._pairs.most_common(TOP_PAIRS) if n > 0]
        per_text = {str(k): v for k, v in sorted(self._per_text.items()) if v > 0}
        return {
            **self._report(counts, examples, self._split_index is not None, warnings),
            "multi_label": {
                "labels_per_text": per_text,
                "mean_labels_per_text": round(sum(int(k) * v for k, v in per_text.items()) / max(trainable, 1), 3),
                "texts_with_several_labels": sum(v for k, v in per_text.items() if int(k) > 1),
                "co_occurrence": pairs,
                "rare_labels": rare,
            },
        }


def _split_cell(sep: str | None):
    def parse(raw: str) -> list[str] | None:
        raw = raw.strip()
        if not raw:
            return None
        if raw.startswith("["):
            try:
                items = json.loads(raw)
            except ValueError:
                items = None
            if isinstance(items, list):
                labels = [normalize_label(str(x)) for x in items]
                return [x for x in labels if x] or None
        parts = raw.split(sep) if sep else [raw]
        labels = [normalize_label(p) for p in parts]
        return [x for x in labels if x] or None

    return parse


def open_multi_label_table(path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
    table = open_table(path, filename)
    cols = table.columns
    text, text_guessed = resolve_column(cols, columns.get("text"), TEXT_NAMES, role="text")
    label, label_guessed = resolve_column(
        cols, columns.get("label"), MULTI_LABEL_NAMES, role="label", exclude=(text,), required=False
    )
    split, _ = resolve_column(cols, None, SPLIT_NAMES, role="split", exclude=(text, label or ""), required=False)
    wide = [] if label else wide_columns(table, {text, split or ""})
    if not label and len(wide) < 2:
        raise InvalidInput(
            f"Could not find the labels. Available columns: {', '.join(cols)}. Use a 'labels' column with labels "
            "joined by | , ; ， or 、 (or a JSON list), or one 0/1 column per label.",
            code="missing_columns",
            details={"role": "label", "available": cols},
        )
    text_i, split_i = cols.index(text), (None if split is None else cols.index(split))
    if label:
        label_i = cols.index(label)
        sample = [c[label_i] for c in itertools.islice(table.rows(), SAMPLE_ROWS) if label_i < len(c)]
        is_json = bool(sample) and sum(s.strip().startswith("[") for s in sample) > len(sample) / 2
        sep = None if is_json else detect_separator(sample)
        cell_parse = _split_cell(sep)

        def parse(cells: list[str]) -> list[str] | None:
            return cell_parse(cells[label_i]) if label_i < len(cells) else None

        form = {"format": "json_list" if is_json else "separated", "separator": sep, "label_column": label}
    else:
        indexes = [(cols.index(c), normalize_label(c)) for c in wide]

        def parse(cells: list[str]) -> list[str] | None:
            # A wide row with no 1 is a text with no label: a real example for a multi-label model.
            return [name for i, name in indexes if i < len(cells) and cells[i].strip().lower() in ("1", "1.0", "true")]

        form = {"format": "wide", "separator": None, "label_columns": wide}
    choice = ColumnChoice(text=text, text_index=text_i, label=label, split=split, split_index=split_i,
                          guessed={"text": text} if text_guessed else {})  # fmt: skip
    if label_guessed and label:
        choice.guessed["label"] = label
    validator = MultiLabelValidator(text_i, split_i, parse, label or ", ".join(wide))
    source = {**table_source(table, path, choice), "multi_label_form": form}
    return Ingest(
        records=table.rows(),
        validator=validator,
        columns={"text": text, "label": label or ",".join(wide)[:200], "split": split},
        source=source,
        file_format=table.format,
        encoding=table.encoding or "",
    )

"""Pair files: find text_a / text_b / label columns, and validate pairs (lengths, identical and conflicting pairs)."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

from llm_trainer.datafiles.columns import LABEL_NAMES, SPLIT_NAMES, ColumnChoice, resolve_column
from llm_trainer.datafiles.reader import open_table
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.datafiles.validate import DatasetValidator, issue, length_stats
from llm_trainer.ml.tasks.classification.data import table_source
from llm_trainer.ml.tasks.spec import Ingest

TEXT_A_NAMES = ("text_a", "sentence1", "句子1", "query", "question1", "q1", "text1", "文本1", "premise", "问题1")
TEXT_B_NAMES = ("text_b", "sentence2", "句子2", "title", "question2", "q2", "text2", "文本2", "hypothesis", "问题2")
# Joins the two texts into the one key the classification validator de-duplicates and checks for conflicts on.
SEP = "\x1f"
MAX_EXAMPLES = 20


class PairValidator:
    """The classification checks on the pair as one key, plus per-side lengths and identical pairs."""

    def __init__(self, a: int, b: int, label: int, split: int | None):
        self._idx = (a, b, label, split)
        self._needed = 1 + max(i for i in self._idx if i is not None)
        has_split = split is not None
        inner = ColumnChoice(
            text="pair", text_index=0, label="label", label_index=1,
            split="split" if has_split else None, split_index=2 if has_split else None,
        )  # fmt: skip
        self._inner = DatasetValidator(inner)
        self._len_a, self._len_b = array("I"), array("I")
        self.identical = 0
        self._identical_examples: list[int] = []
        self.empty_side = 0

    @property
    def rows_read(self) -> int:
        return self._inner.rows_read

    def add(self, cells: list[str]) -> tuple | None:
        a_i, b_i, l_i, s_i = self._idx
        if len(cells) < self._needed:
            return self._inner.add([])  # counted as malformed
        a, b = cells[a_i].strip(), cells[b_i].strip()
        if not a or not b:
            self.empty_side += 1
            return self._inner.add(["", cells[l_i]])  # counted as an empty text
        row = self._inner.add([a + SEP + b, cells[l_i], cells[s_i] if s_i is not None else ""])
        if row is None:
            return None
        idx, _, label, split, conflict = row
        self._len_a.append(len(a))
        self._len_b.append(len(b))
        if a == b:
            self.identical += 1
            if len(self._identical_examples) < MAX_EXAMPLES:
                self._identical_examples.append(idx)
        return (idx, a, label, split, conflict, b, None)

    def finish(self) -> dict[str, Any]:
        report = self._inner.finish()
        report["text_length"] = length_stats(self._len_a)
        report["pairs"] = {
            "text_a_length": length_stats(self._len_a),
            "text_b_length": length_stats(self._len_b),
            "identical_pairs": self.identical,
            "identical_pair_rows": self._identical_examples,
            "pairs_with_an_empty_side": self.empty_side,
        }
        for example in report["conflicts"]["examples"]:
            example["text_a"], _, example["text_b"] = example["text"].partition(SEP)
            example["text"] = f"{example['text_a']} ‖ {example['text_b']}"
        if self.identical:
            report["warnings"].append(
                issue(
                    "identical_pairs",
                    f"{self.identical} pair(s) have the same text on both sides; check they are meant to be there "
                    "(they teach the model little).",
                    rows=self._identical_examples,
                )
            )
        return report

    def label_counts(self) -> dict[str, int]:
        return self._inner.label_counts()

    @property
    def content_hash(self) -> str:
        return self._inner.content_hash

    @property
    def conflict_first_idxs(self) -> list[int]:
        return self._inner.conflict_first_idxs


def pair_columns(
    cols: list[str], columns: dict[str, str | None], *, require_label: bool = True
) -> tuple[str | None, str | None, str | None, dict[str, str]]:
    """(text_a, text_b, label, guessed role -> column) of a pair table: explicit names, else known headers; a
    missing required role raises `missing_columns`."""
    a, a_guessed = resolve_column(cols, columns.get("text"), TEXT_A_NAMES, role="text")
    b, b_guessed = resolve_column(cols, columns.get("text_b"), TEXT_B_NAMES, role="text_b", exclude=(a,))
    label, label_guessed = resolve_column(
        cols, columns.get("label"), LABEL_NAMES, role="label", exclude=(a, b), required=require_label
    )
    guessed = {role: c for role, c, g in (("text", a, a_guessed), ("text_b", b, b_guessed),
                                           ("label", label, label_guessed)) if g and c}  # fmt: skip
    return a, b, label, guessed


def open_pair_table(path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
    table = open_table(path, filename)
    cols = table.columns
    a, b, label, guessed = pair_columns(cols, columns)
    split, _ = resolve_column(cols, None, SPLIT_NAMES, role="split", exclude=(a, b, label), required=False)
    choice = ColumnChoice(
        text=a, text_index=cols.index(a), label=label, label_index=cols.index(label),
        split=split, split_index=None if split is None else cols.index(split), guessed=guessed,
    )  # fmt: skip
    source = {**table_source(table, path, choice), "text_b_column": b}
    validator = PairValidator(cols.index(a), cols.index(b), cols.index(label), choice.split_index)
    return Ingest(
        records=table.rows(),
        validator=validator,
        columns={"text": a, "text_b": b, "label": label, "split": split},
        source=source,
        file_format=table.format,
        encoding=table.encoding or "",
    )


def recognise_pair(sample: FileSample) -> list[str] | None:
    """[first text, second text] when a table names both (text_a/text_b, sentence1/sentence2, 句子1/句子2...)."""
    a = sample.named(TEXT_A_NAMES)
    b = sample.named(TEXT_B_NAMES, exclude=(a,)) if a else None
    return [a, b] if a and b else None

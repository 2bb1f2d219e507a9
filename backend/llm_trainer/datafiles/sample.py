"""The first records of an upload, read once, so each task can say whether the file is in its layout
(`TaskSpec.recognise`, `ml/tasks/registry.detect_task`)."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import AppError
from llm_trainer.datafiles import limits
from llm_trainer.datafiles.reader import head_text, numbered_objects, open_table

SAMPLE_RECORDS = 200
SAMPLE_LINES = 400


@dataclass
class FileSample:
    columns: list[str] = field(default_factory=list)  # a table's header ([] when the file is no table)
    rows: list[list[str]] = field(default_factory=list)  # its first data rows, cells as strings
    objects: list[dict[str, Any]] = field(default_factory=list)  # JSON/JSONL: the first records, nesting kept
    lines: list[str] = field(default_factory=list)  # the first text lines (token-per-line files)

    def column(self, name: str) -> list[str]:
        """The sampled cells of column `name`."""
        i = self.columns.index(name)
        return [row[i] for row in self.rows if i < len(row)]

    def named(self, names: tuple[str, ...], exclude: tuple[str, ...] = ()) -> str | None:
        """The first column whose header is one of `names` exactly (case aside), in `names` order."""
        lowered = {c.lower(): c for c in self.columns if c not in exclude}
        return next((lowered[n] for n in names if n in lowered), None)


def sample_file(path: Path, filename: str) -> FileSample:
    """Whatever of the file can be read as a table, JSON records and text lines; never raises for bad content
    (the chosen task's reader then says what is wrong)."""
    # Same caps, own counters: what the sample cut or cleaned must not be counted twice in the upload's report.
    with limits.applied(dataclasses.replace(limits.current(), cut_texts=0, nul_cells=0, notes=[])):
        return _sample(path, filename)


def _sample(path: Path, filename: str) -> FileSample:
    sample = FileSample()
    try:
        table = open_table(path, filename)
        sample.columns = table.columns
        sample.rows = list(itertools.islice(table.rows(), SAMPLE_RECORDS))
        if table.format in ("jsonl", "json"):
            sample.objects = [obj for _, obj in itertools.islice(numbered_objects(table), SAMPLE_RECORDS)]
    except AppError:
        pass
    with contextlib.suppress(AppError):
        sample.lines = head_text(path).splitlines()[:SAMPLE_LINES]
    return sample

"""Tabular ingest shared by text-classification-like tasks: open the table, resolve roles, attach a validator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.columns import ColumnChoice, choose_columns
from llm_trainer.datafiles.reader import Table, open_table
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.ml.tasks.spec import Ingest


def table_source(table: Table, path: Path, choice: ColumnChoice) -> dict[str, Any]:
    """What the report says about the file and the columns used."""
    return {
        "format": table.format,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "columns": table.columns,
        "text_column": choice.text,
        "label_column": choice.label,
        "split_column": choice.split,
        "guessed_columns": choice.guessed,
        "size_bytes": path.stat().st_size,
    }


def open_text_label_table(
    path: Path, filename: str, columns: dict[str, str | None], make_validator: Callable[[ColumnChoice, Table], Any]
) -> Ingest:
    """`text` + `label` (+ optional split) columns of a CSV/TSV/XLSX/JSONL file."""
    table = open_table(path, filename)
    choice = choose_columns(table.columns, columns.get("text"), columns.get("label"))
    return Ingest(
        records=table.rows(),
        validator=make_validator(choice, table),
        columns={"text": choice.text, "label": choice.label, "split": choice.split},
        source=table_source(table, path, choice),
        file_format=table.format,
        encoding=table.encoding or "",
    )


def recognise_text_label(sample: FileSample) -> list[str] | None:
    """[text column, label column] when a table has both (named or guessed as an upload would)."""
    if not sample.columns:
        return None
    try:
        choice = choose_columns(sample.columns)
    except InvalidInput:
        return None
    return [choice.text, choice.label] if choice.label else None

"""Caps on what an uploaded file may hold, so a few hostile kilobytes cannot hang, fill or crash the server.

The service that reads a file sets them from Settings for the duration of the read (`applied`); readers ask
`current()`. Texts over the length cap are cut and counted, NUL bytes are removed and counted (both reported),
everything else over a cap refuses the file with an error that names the setting.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import InvalidInput, PayloadTooLarge


@dataclass
class ReadLimits:
    max_columns: int = 1000
    max_header_chars: int = 256
    max_text_chars: int = 100_000
    max_rows: int = 2_000_000
    max_json_depth: int = 32
    xlsx_max_uncompressed_bytes: int = 1024 * 1024 * 1024
    xlsx_max_ratio: int = 200
    # What the last read had to change; the service copies these into the validation report.
    cut_texts: int = 0
    nul_cells: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(cls, s: Settings) -> ReadLimits:
        return cls(
            max_columns=s.max_columns,
            max_header_chars=s.max_header_chars,
            max_text_chars=s.max_text_chars,
            max_rows=s.max_rows,
            max_json_depth=s.max_json_depth,
            xlsx_max_uncompressed_bytes=s.xlsx_max_uncompressed_mb * 1024 * 1024,
            xlsx_max_ratio=s.xlsx_max_ratio,
        )


_current: ContextVar[ReadLimits | None] = ContextVar("read_limits", default=None)


def current() -> ReadLimits:
    limits = _current.get()
    if limits is None:
        limits = ReadLimits()
        _current.set(limits)
    return limits


@contextmanager
def applied(limits: ReadLimits) -> Iterator[ReadLimits]:
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def check_columns(count: int) -> None:
    limit = current().max_columns
    if count > limit:
        raise InvalidInput(
            f"The file has {count} columns; at most {limit} are accepted (LLM_TRAINER_MAX_COLUMNS). Keep only the "
            "columns you need and upload again.",
            code="too_many_columns",
            details={"columns": count, "max_columns": limit},
        )


def check_header_cell(name: str) -> None:
    limit = current().max_header_chars
    if len(name) > limit:
        raise InvalidInput(
            f"A column name is {len(name)} characters long; at most {limit} are accepted "
            "(LLM_TRAINER_MAX_HEADER_CHARS). Is the first row really a header?",
            code="header_too_long",
            details={"max_header_chars": limit},
        )


def clean_cells(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    """Rows with NUL bytes removed and over-long texts cut (both counted); refuses files over the row cap."""
    limits = current()
    max_chars, max_rows = limits.max_text_chars, limits.max_rows
    for n, row in enumerate(rows, start=1):
        if n > max_rows:
            raise PayloadTooLarge(
                f"The file has more than {max_rows:,} rows (LLM_TRAINER_MAX_ROWS). Split it or raise the limit.",
                code="too_many_rows",
                details={"max_rows": max_rows},
            )
        for i, cell in enumerate(row):
            if "\x00" in cell:
                cell = row[i] = cell.replace("\x00", "")
                limits.nul_cells += 1
            if len(cell) > max_chars:
                row[i] = cell[:max_chars]
                limits.cut_texts += 1
        yield row


def json_depth_ok(value: object) -> bool:
    """True when `value` nests no deeper than the cap (checked without recursion)."""
    limit = current().max_json_depth
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


def too_deep(where: str) -> InvalidInput:
    limit = current().max_json_depth
    return InvalidInput(
        f"A JSON record {where} nests deeper than {limit} levels (LLM_TRAINER_MAX_JSON_DEPTH). Flatten it.",
        code="json_too_deep",
        details={"max_json_depth": limit},
    )


def check_workbook(path: Path) -> None:
    """Refuse a zip bomb before openpyxl inflates anything: total size and per-member ratio from the directory."""
    limits = current()
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(
            "The Excel workbook is damaged or truncated. Re-save it as .xlsx or CSV UTF-8 and upload again.",
            code="unsupported_format",
        ) from exc
    total = sum(m.file_size for m in members)
    worst = max((m.file_size / max(m.compress_size, 1) for m in members if m.file_size > 1024 * 1024), default=0)
    if total > limits.xlsx_max_uncompressed_bytes or worst > limits.xlsx_max_ratio:
        raise PayloadTooLarge(
            f"The workbook unpacks to {total / 1e6:,.0f} MB (compression ratio up to {worst:,.0f}:1), over the limits "
            "(LLM_TRAINER_XLSX_MAX_UNCOMPRESSED_MB, LLM_TRAINER_XLSX_MAX_RATIO). Save it as CSV UTF-8 instead.",
            code="xlsx_too_large",
            details={"uncompressed_bytes": total},
        )

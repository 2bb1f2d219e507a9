"""Open a tabular file on disk (CSV/TSV/XLSX/JSONL/JSON array), detect format and encoding, stream its rows."""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import charset_normalizer

from llm_trainer.core.errors import InvalidInput, PayloadTooLarge
from llm_trainer.datafiles import limits

SAMPLE_BYTES = 64 * 1024
CSV_DELIMITERS = ",;\t|"
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
ZIP_MAGIC = b"PK\x03\x04"  # XLSX
SUPPORTED_HINT = "Save it as CSV, TSV, XLSX, JSONL or a JSON array of objects and upload again."
# Chinese text is what this platform handles, so when GB18030 is among the plausible encodings it wins over
# look-alikes (cp949, big5) that charset-normalizer may rank higher on short samples.
CHINESE_ENCODINGS = {"gb2312", "gbk", "gb18030", "hz"}
# A cell longer than this is almost surely a broken quote, not a text; the csv module default (128 KiB) is kept
# generous enough for long documents.
csv.field_size_limit(min(sys.maxsize, 16 * 1024 * 1024))


@dataclass
class Table:
    """A detected tabular file: how to read it, its header, and a fresh row stream per `rows()` call."""

    path: Path
    format: str  # csv | tsv | xlsx | jsonl | json
    encoding: str | None  # None for xlsx (binary)
    delimiter: str | None
    columns: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[list[str]]:
        """Data rows after the header, each a list of strings (JSON objects mapped onto `columns`)."""
        if self.format in ("csv", "tsv"):
            return limits.clean_cells(_csv_rows(self, skip_header=True))
        if self.format == "xlsx":
            return limits.clean_cells(_xlsx_rows(self.path, skip_header=True))
        return limits.clean_cells(_json_rows(self))


def open_table(path: Path, filename: str | None = None) -> Table:
    """Detect format, encoding and delimiter of `path` (named `filename` by the user) and read its header."""
    head = _read_head(path)
    if not head:
        raise InvalidInput("The file is empty. Upload a file with a header row and data rows.", code="empty_dataset")
    fmt = _detect_format(filename or path.name, head)
    if fmt == "xlsx":
        limits.check_workbook(path)
        table = Table(path, "xlsx", None, None)
        table.columns = _header(next(_xlsx_rows(path, skip_header=False), None), path)
        return table
    if fmt == "json_object":
        raise InvalidInput(
            "The JSON file holds one object; expected an array of objects [{...}, ...] or one object per line (JSONL).",
            code="malformed_file",
        )
    encoding = detect_encoding(path, head)
    table = Table(path, fmt, encoding, None)
    if fmt == "tsv":
        table.delimiter = "\t"
    elif fmt == "csv":
        table.delimiter = sniff_delimiter(_decode_sample(head, encoding))
    if fmt in ("csv", "tsv"):
        table.columns = _header(next(_csv_rows(table, skip_header=False), None), path)
    else:
        first = next(_json_objects(table), None)
        if first is None:
            raise InvalidInput("The JSON file holds no records. " + SUPPORTED_HINT, code="empty_dataset")
        table.columns = _header(list(first.keys()), path)
    return table


def detect_encoding(path: Path, head: bytes) -> str:
    """Name of the text encoding of `path`: BOMs first, then strict UTF-8, then charset-normalizer on samples."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    samples = [head, _read_tail(path)]
    if all(_is_utf8(s) for s in samples):
        return "utf-8"
    results = charset_normalizer.from_bytes(head)
    candidates = [r.encoding for r in results]
    if any(c in CHINESE_ENCODINGS for c in candidates) or _decodes(samples, "gb18030"):
        return "gb18030"
    best = results.best()
    if best is not None and _decodes(samples, best.encoding):
        return best.encoding
    raise InvalidInput(
        "Could not detect the text encoding of the file. Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload again.",
        code="encoding_undetected",
    )


def sniff_delimiter(sample: str) -> str:
    """The delimiter among `, ; tab |` that splits the sample's lines into the most consistent columns."""
    lines = sample.splitlines()[:-1] or sample.splitlines()  # the last line of a sample may be cut
    text = "\n".join(lines[:200])
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: _consistency(text, d) for d in CSV_DELIMITERS}
    best = max(scores, key=lambda d: (scores[d], d == sniffed, d == ","))
    # The Sniffer also weighs quoting, so its answer wins when it is as consistent as the best count.
    if sniffed in scores and scores[sniffed] >= scores[best]:
        return sniffed
    return best if scores[best] > 0 else ","


def cell_to_str(value: Any) -> str:
    """Render a spreadsheet/JSON cell as the text a user typed: 1.0 -> '1', None -> ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def _consistency(text: str, delimiter: str) -> float:
    """Share of lines with the most common field count, zero when that count is 1 (delimiter absent)."""
    counts: dict[int, int] = {}
    try:
        for row in csv.reader(text.splitlines(), delimiter=delimiter):
            if row:
                counts[len(row)] = counts.get(len(row), 0) + 1
    except csv.Error:
        return 0.0
    if not counts:
        return 0.0
    width, hits = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return 0.0 if width < 2 else hits / sum(counts.values())


def _detect_format(filename: str, head: bytes) -> str:
    """Format from the content where it is unambiguous (zip = workbook, JSON brackets), else from the extension."""
    suffix = Path(filename).suffix.lower()
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput(
            "Old Excel .xls files are not supported. In Excel use 'Save as' > 'Excel Workbook (.xlsx)' or 'CSV UTF-8'.",
            code="unsupported_format",
            details={"filename": filename},
        )
    if suffix and suffix not in EXTENSIONS:
        raise InvalidInput(
            f"Unsupported file type '{suffix}'. {SUPPORTED_HINT}",
            code="unsupported_format",
            details={"filename": filename, "supported": sorted(EXTENSIONS)},
        )
    fmt = EXTENSIONS.get(suffix, "csv")
    if suffix not in (".csv", ".tsv", ".tab"):
        # JSON is recognised by its first character whatever the extension says (.txt, .json holding JSONL...).
        first = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")[:1]
        if first == b"[":
            return "json"
        if first == b"{":
            return "jsonl" if _one_object_per_line(head) else "json_object"
    return fmt


def _header(cells: list[Any] | None, path: Path) -> list[str]:
    if not cells or not any(cell_to_str(c).strip() for c in cells):
        raise InvalidInput(
            "The file has no header row. Put column names (e.g. text,label) in the first row.", code="empty_dataset"
        )
    limits.check_columns(len(cells))
    names: list[str] = []
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}  # per base name, so 30k repeated names stay linear
    for i, cell in enumerate(cells):
        name = cell_to_str(cell).replace("\x00", "").strip().lstrip("\ufeff").strip() or f"column_{i + 1}"
        limits.check_header_cell(name)
        base, n = name, next_suffix.get(name, 2)
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        next_suffix[base] = n
        seen.add(name)
        names.append(name)
    return names


def _csv_rows(table: Table, *, skip_header: bool) -> Iterator[list[str]]:
    assert table.encoding is not None
    row_no = 0
    try:
        with open(table.path, encoding=table.encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=table.delimiter or ",")
            for row in reader:
                row_no = reader.line_num
                if not row:
                    continue
                if skip_header:
                    skip_header = False
                    continue
                yield row
    except UnicodeDecodeError as exc:
        raise _decode_error(table.encoding, f"near line {row_no + 1}") from exc
    except csv.Error as exc:
        raise InvalidInput(
            f"The file is not valid CSV near line {row_no + 1}: {exc}. Check quotes around texts that contain the "
            "delimiter or line breaks.",
            code="malformed_file",
            details={"line": row_no + 1},
        ) from exc


def _xlsx_rows(path: Path, *, skip_header: bool) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # heavy import, only when a workbook is uploaded

    # A file object, not the path: openpyxl refuses paths whose extension is not .xlsx (a renamed workbook).
    with open(path, "rb") as fh:
        try:
            wb = load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged or non-xlsx zip
            raise InvalidInput(
                f"Could not open the Excel workbook ({exc.__class__.__name__}). Re-save it as .xlsx or CSV UTF-8.",
                code="unsupported_format",
            ) from exc
        try:
            ws = wb.active if wb.active is not None else wb.worksheets[0]
            ws.reset_dimensions()  # the declared <dimension> would pad every row to it (A1:XFD1048576)
            for values in ws.iter_rows(values_only=True):
                row = [cell_to_str(v) for v in values]
                if not any(row):
                    continue
                if skip_header:
                    skip_header = False
                    continue
                yield row
        finally:
            wb.close()


def _json_objects(table: Table) -> Iterator[dict[str, Any]]:
    assert table.encoding is not None
    where = "in the first records"
    try:
        if table.format == "jsonl":
            with open(table.path, encoding=table.encoding, newline="") as fh:
                for line_no, line in enumerate(fh, start=1):
                    where = f"on line {line_no}"
                    if line.strip():
                        yield _as_object(_bounded(json.loads(line), where), where)
        else:
            import ijson  # streaming parser: a JSON array is never loaded whole

            with open(table.path, encoding=table.encoding, newline="") as fh:
                for n, item in enumerate(ijson.items(_Utf8Bytes(fh), "item"), start=1):
                    where = f"in record {n}"
                    yield _as_object(_bounded(item, where), where)
    except UnicodeDecodeError as exc:
        raise _decode_error(table.encoding, where) from exc
    except RecursionError as exc:
        raise limits.too_deep(where) from exc
    except (ValueError, ImportError) as exc:  # json.JSONDecodeError and ijson.JSONError are ValueErrors
        raise InvalidInput(
            f"The file is not valid {'JSON Lines' if table.format == 'jsonl' else 'JSON'} {where}: {exc}. "
            "Expect one object per line (JSONL) or an array of objects (JSON).",
            code="malformed_file",
        ) from exc


def numbered_objects(table: Table) -> Iterator[tuple[int, dict[str, Any]]]:
    """(record number from 1, object) of a JSON/JSONL table, refusing files over the row cap."""
    for n, obj in enumerate(_json_objects(table), start=1):
        if n > limits.current().max_rows:
            raise PayloadTooLarge(
                f"The file has more than {limits.current().max_rows:,} records (LLM_TRAINER_MAX_ROWS).",
                code="too_many_rows",
            )
        yield n, obj


class _Utf8Bytes:
    """A text file seen as UTF-8 bytes, chunk by chunk: what ijson reads, whatever the file's encoding."""

    def __init__(self, text_file: IO[str]):
        self._file = text_file

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size).encode("utf-8")


def _json_rows(table: Table) -> Iterator[list[str]]:
    columns = table.columns
    for obj in _json_objects(table):
        yield [cell_to_str(obj.get(c)) for c in columns]


def _bounded(value: Any, where: str) -> Any:
    if not limits.json_depth_ok(value):
        raise limits.too_deep(where)
    return value


def _as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(
            f'Expected a JSON object like {{"text": ..., "label": ...}} {where}, got {type(value).__name__}.',
            code="malformed_file",
        )
    return value


def _decode_error(encoding: str, where: str) -> InvalidInput:
    return InvalidInput(
        f"The file is not valid {encoding} {where}: it mixes text encodings. Save it as UTF-8 (in Excel: "
        "'CSV UTF-8') and upload again.",
        code="encoding_error",
        details={"encoding": encoding},
    )


def head_text(path: Path) -> str:
    """The first SAMPLE_BYTES of a text file, decoded (bad bytes replaced); '' for an empty file or a workbook."""
    head = _read_head(path)
    if not head or head.startswith(ZIP_MAGIC):
        return ""
    return _decode_sample(head, detect_encoding(path, head))


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SAMPLE_BYTES)


def _read_tail(path: Path) -> bytes:
    """The last sample of the file, starting after a line break so no character is cut at its start."""
    size = path.stat().st_size
    if size <= SAMPLE_BYTES:
        return b""
    with open(path, "rb") as fh:
        fh.seek(max(SAMPLE_BYTES, size - SAMPLE_BYTES))
        tail = fh.read()
    nl = tail.find(b"\n")
    return tail[nl + 1 :] if nl >= 0 else b""


def _is_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)  # a cut last character is fine
    except UnicodeDecodeError:
        return False
    return True


def _decodes(samples: list[bytes], encoding: str) -> bool:
    try:
        for s in samples:
            codecs.getincrementaldecoder(encoding)().decode(s, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _decode_sample(head: bytes, encoding: str) -> str:
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def _one_object_per_line(head: bytes) -> bool:
    """True when the first line is a complete JSON object (JSONL) rather than the start of a pretty-printed one."""
    first_line = head.replace(b"\x00", b"").split(b"\n", 1)[0].strip()  # NULs: UTF-16 text
    return first_line.endswith(b"}")

"""Write small labelled tables in every supported format and encoding, for upload and reader tests."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

Rows = Sequence[Sequence[object]]

HEADER = ["text", "label"]
# Chinese texts with the characters that break naive parsers: commas (ASCII and full-width), quotes, a line break.
ROWS: list[list[object]] = [
    ["这家店的菜很好吃，还会再来", "正面"],
    ["送餐太慢了, 饭都凉了", "负面"],
    ['味道不错，"超赞"', "正面"],
    ["难吃，差评\n再也不点了", "负面"],
    ["服务很好", "正面"],
    ["包装破了；汤洒了", "负面"],
]


def csv_text(rows: Rows, header: Sequence[str] = HEADER, delimiter: str = ",") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_csv(
    path: Path, rows: Rows = ROWS, header: Sequence[str] = HEADER, *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    """A CSV as Excel or a script would write it; `encoding` may be utf-8-sig, gbk, utf-16 (BOM)..."""
    path.write_bytes(csv_text(rows, header, delimiter).encode(encoding))
    return path


def write_xlsx(path: Path, rows: Rows = ROWS, header: Sequence[str] = HEADER) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def write_jsonl(path: Path, rows: Rows = ROWS, header: Sequence[str] = HEADER) -> Path:
    lines = [json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_json_array(path: Path, rows: Rows = ROWS, header: Sequence[str] = HEADER) -> Path:
    records = [dict(zip(header, row, strict=True)) for row in rows]
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), "utf-8")
    return path


def many_rows(n: int, labels: Sequence[str] = ("正面", "负面")) -> list[list[object]]:
    """`n` distinct rows cycling through `labels`."""
    return [[f"第{i}条评论，味道{'好' if i % 2 else '一般'}", labels[i % len(labels)]] for i in range(n)]

"""Format, encoding and delimiter detection, and streaming reads, on files the tests write."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.reader import open_table
from tests.helpers.datafiles import (
    HEADER,
    ROWS,
    many_rows,
    write_csv,
    write_json_array,
    write_jsonl,
    write_xlsx,
)

EXPECTED = [[str(c) for c in row] for row in ROWS]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-16", "utf-16")],
)
def test_encodings_are_detected_and_rows_decoded(tmp_path: Path, encoding: str, detected: str) -> None:
    table = open_table(write_csv(tmp_path / "d.csv", encoding=encoding))
    assert table.encoding == detected
    assert table.columns == HEADER  # no BOM left in the first column name
    assert list(table.rows()) == EXPECTED


def test_short_gbk_file_is_not_mistaken_for_korean(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["好吃", "正面"], ["难吃", "负面"]], ["文本", "标签"], encoding="gbk")
    table = open_table(path)
    assert table.encoding == "gb18030"
    assert table.columns == ["文本", "标签"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    table = open_table(write_csv(tmp_path / "d.csv", delimiter=delimiter))
    assert (table.format, table.delimiter) == ("csv", delimiter)
    assert list(table.rows()) == EXPECTED


def test_tsv_extension_reads_tabs(tmp_path: Path) -> None:
    table = open_table(write_csv(tmp_path / "d.tsv", delimiter="\t"))
    assert (table.format, table.delimiter) == ("tsv", "\t")
    assert list(table.rows()) == EXPECTED


def test_xlsx_cells_become_the_text_a_user_typed(tmp_path: Path) -> None:
    rows = [["好吃", 1], ["难吃", 0.0], ["一般", 2.5], [None, 1]]
    table = open_table(write_xlsx(tmp_path / "d.xlsx", rows))
    assert (table.format, table.encoding, table.columns) == ("xlsx", None, HEADER)
    assert list(table.rows()) == [["好吃", "1"], ["难吃", "0"], ["一般", "2.5"], ["", "1"]]


def test_workbook_renamed_to_csv_is_read_as_workbook(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "d.xlsx")
    renamed = path.rename(tmp_path / "d.csv")
    assert open_table(renamed).format == "xlsx"


def test_jsonl_and_json_array(tmp_path: Path) -> None:
    for path, fmt in ((write_jsonl(tmp_path / "d.jsonl"), "jsonl"), (write_json_array(tmp_path / "d.json"), "json")):
        table = open_table(path)
        assert (table.format, table.columns) == (fmt, HEADER)
        assert list(table.rows()) == EXPECTED


def test_json_content_is_recognised_whatever_the_extension(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl")
    assert open_table(src.rename(tmp_path / "d.json")).format == "jsonl"
    assert open_table(write_json_array(tmp_path / "e.json").rename(tmp_path / "e.txt")).format == "json"


def test_json_array_in_gbk_and_utf16(tmp_path: Path) -> None:
    for encoding in ("gbk", "utf-16"):
        path = write_json_array(tmp_path / "d.json")
        path.write_bytes(path.read_text("utf-8").encode(encoding))
        assert list(open_table(path).rows()) == EXPECTED


def test_json_numbers_and_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "好", "label": 1}\n{"text": "差", "label": 0.0, "extra": 5}\n{"text": "缺"}\n', "utf-8")
    assert list(open_table(path).rows()) == [["好", "1"], ["差", "0"], ["缺", ""]]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("d.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "unsupported_format"),
        ("d.pdf", b"%PDF-1.4 ...", "unsupported_format"),
        ("d.xlsx", b"PK\x03\x04 not really a zip", "unsupported_format"),
        ("d.csv", b"", "empty_dataset"),
        ("d.csv", b"\r\n\r\n", "empty_dataset"),
        ("d.json", b'{"text": "a",\n "label": "b"}', "malformed_file"),
        ("d.jsonl", b'{"text": "a", "label": "b"}\n{"text": oops}\n', "malformed_file"),
        ("d.jsonl", b'{"text": "a", "label": "b"}\n[1, 2]\n', "malformed_file"),
    ],
)
def test_unreadable_files_fail_with_a_stable_code(tmp_path: Path, name: str, content: bytes, code: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as err:
        list(open_table(path).rows())
    assert err.value.code == code
    assert err.value.message


def test_binary_noise_is_reported_as_undetected_encoding(tmp_path: Path) -> None:
    rng = random.Random(0)
    path = tmp_path / "d.csv"
    path.write_bytes(bytes(rng.randrange(128, 256) for _ in range(4000)))
    with pytest.raises(InvalidInput) as err:
        open_table(path)
    assert err.value.code == "encoding_undetected"


def test_mixed_encodings_fail_with_the_row_position(tmp_path: Path) -> None:
    head = "text,label\n" + "".join(f"第{i}条很好,1\n" for i in range(20000))  # > head and tail samples
    middle = "这条是GBK写的,0\n".encode("gbk")
    path = tmp_path / "d.csv"
    path.write_bytes(head.encode() + middle + head.encode())
    table = open_table(path)
    assert table.encoding == "utf-8"
    with pytest.raises(InvalidInput) as err:
        list(table.rows())
    assert err.value.code == "encoding_error"
    assert "line" in err.value.message


def test_rows_stream_without_loading_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", many_rows(100_000))
    assert path.stat().st_size > 2_000_000
    table = open_table(path)
    tracemalloc.start()
    count = sum(1 for _ in table.rows())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 100_000
    assert peak < 1_000_000  # a fraction of the file: rows are not accumulated

"""Dataset API through real HTTP handling on a temp SQLite file: every format and encoding, errors, limits, paging."""

from __future__ import annotations

import csv
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from llm_trainer.api.app import create_app
from llm_trainer.core.config import Settings
from tests.conftest import LOCAL_URL, SHARED_DATASETS, run_server
from tests.helpers.datafiles import (
    ROWS,
    csv_text,
    many_rows,
    write_csv,
    write_json_array,
    write_jsonl,
    write_xlsx,
)

EXPECTED_LABELS = {"正面": 3, "负面": 3}

FIXTURES: dict[str, tuple[Callable[[Path], Path], str, str | None, str | None]] = {
    # name: (writer, format, encoding, delimiter)
    "utf8.csv": (lambda p: write_csv(p), "csv", "utf-8", ","),
    "bom.csv": (lambda p: write_csv(p, encoding="utf-8-sig"), "csv", "utf-8-sig", ","),
    "gbk.csv": (lambda p: write_csv(p, encoding="gbk"), "csv", "gb18030", ","),
    "utf16.txt": (lambda p: write_csv(p, delimiter="\t", encoding="utf-16"), "csv", "utf-16", "\t"),
    "data.tsv": (lambda p: write_csv(p, delimiter="\t"), "tsv", "utf-8", "\t"),
    "semicolon.csv": (lambda p: write_csv(p, delimiter=";"), "csv", "utf-8", ";"),
    "pipe.csv": (lambda p: write_csv(p, delimiter="|"), "csv", "utf-8", "|"),
    "book.xlsx": (lambda p: write_xlsx(p), "xlsx", None, None),
    "lines.jsonl": (lambda p: write_jsonl(p), "jsonl", "utf-8", None),
    "array.json": (lambda p: write_json_array(p), "json", "utf-8", None),
}


def post_file(client: TestClient | httpx.Client, path: Path, url: str = "/upload", **fields: str) -> httpx.Response:
    with open(path, "rb") as fh:
        return client.post(url, files={"file": (path.name, fh)}, data=fields)


def leftovers(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.uploads_dir.rglob("*") if p.is_file())


def assert_nothing_stored(client: TestClient, settings: Settings) -> None:
    assert client.get("/datasets").json() == []
    assert leftovers(settings) == []


@pytest.mark.parametrize("name", list(FIXTURES))
def test_upload_every_format_and_encoding(client: TestClient, settings: Settings, tmp_path: Path, name: str) -> None:
    writer, fmt, encoding, delimiter = FIXTURES[name]
    r = post_file(client, writer(tmp_path / name))
    assert r.status_code == 201, r.text
    ds = r.json()
    assert (ds["file_format"], ds["row_count"], ds["labels"], ds["num_labels"]) == (fmt, 6, EXPECTED_LABELS, 2)
    source = ds["report"]["source"]
    assert (source["format"], source["encoding"], source["delimiter"]) == (fmt, encoding, delimiter)
    assert source["columns"] == ["text", "label"]
    assert ds["name"] == Path(name).stem
    assert {w["code"] for w in ds["report"]["warnings"]} == {"small_classes"}
    rows = client.get(f"/api/datasets/{ds['id']}/rows").json()["items"]
    assert [[r["text"], r["label"]] for r in rows] == ROWS  # commas, quotes and line breaks survive
    assert leftovers(settings) == [settings.uploads_dir / str(ds["id"]) / name]


def test_same_content_in_any_format_has_the_same_hash(client: TestClient, tmp_path: Path) -> None:
    hashes = {
        post_file(client, writer(tmp_path / name)).json()["content_hash"] for name, (writer, *_) in FIXTURES.items()
    }
    assert len(hashes) == 1
    assert len(client.get("/datasets").json()) == len(FIXTURES)


def test_chinese_headers_are_guessed_and_reported(client: TestClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "评论.csv", ROWS, ["评论", "类别"], encoding="gbk")
    ds = post_file(client, path, name="我的数据", description="外卖评论").json()
    assert (ds["name"], ds["description"], ds["text_column"], ds["label_column"]) == (
        "我的数据",
        "外卖评论",
        "评论",
        "类别",
    )
    assert ds["report"]["source"]["guessed_columns"] == {"text": "评论", "label": "类别"}


def test_explicit_columns(client: TestClient, tmp_path: Path) -> None:
    rows = [[str(i), t, lbl] for i, (t, lbl) in enumerate(ROWS)]
    path = write_csv(tmp_path / "d.csv", rows, ["编号", "正文", "情绪"])
    r = post_file(client, path, text_column="正文", label_column="情绪")
    assert r.status_code == 201, r.text
    assert r.json()["labels"] == EXPECTED_LABELS


def test_report_counts_cleaning(client: TestClient, tmp_path: Path) -> None:
    rows = many_rows(40) + [["", "正面"], ["第1条评论，味道好", "负面"], ["第1条评论，味道好", "正面"], ["x", "\u3000"]]
    report = post_file(client, write_csv(tmp_path / "d.csv", rows)).json()["report"]
    assert report["rows_read"] == 44
    # Row 1 is ("第1条评论，味道好", 负面): the first repeat is an exact duplicate, the second a conflict.
    assert report["dropped"] == {"empty_text": 1, "empty_label": 1, "duplicate": 1, "malformed": 0}
    assert report["conflicts"]["rows"] == 2
    assert (report["rows_kept"], report["trainable_rows"]) == (41, 39)


def _garbage(path: Path) -> Path:
    rng = random.Random(0)
    path.write_bytes(bytes(rng.randrange(128, 256) for _ in range(4000)))
    return path


ERROR_CASES: dict[str, tuple[Callable[[Path], Path], dict[str, str], str]] = {
    "old_excel": (lambda p: _write(p / "d.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 64), {}, "unsupported_format"),
    "pdf": (lambda p: _write(p / "d.pdf", b"%PDF-1.4"), {}, "unsupported_format"),
    "noise": (lambda p: _garbage(p / "d.csv"), {}, "encoding_undetected"),
    "empty_file": (lambda p: _write(p / "d.csv", b""), {}, "empty_dataset"),
    "header_only": (lambda p: write_csv(p / "d.csv", []), {}, "empty_dataset"),
    "no_label_column": (lambda p: write_csv(p / "d.csv", ROWS, ["text", "星级"]), {}, "missing_columns"),
    "wrong_explicit": (lambda p: write_csv(p / "d.csv"), {"text_column": "正文"}, "missing_columns"),
    "one_label": (lambda p: write_csv(p / "d.csv", [[f"t{i}", "a"] for i in range(20)]), {}, "too_few_labels"),
    "bad_json": (lambda p: _write(p / "d.jsonl", b'{"text": "a", "label": 1}\n{oops\n'), {}, "malformed_file"),
}


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_uploads_fail_cleanly(client: TestClient, settings: Settings, tmp_path: Path, case: str) -> None:
    writer, fields, code = ERROR_CASES[case]
    r = post_file(client, writer(tmp_path), **fields)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == code
    assert body["message"] and set(body) == {"code", "message", "details"}
    if code == "missing_columns":
        assert body["details"]["available"] in (["text", "星级"], ["text", "label"])
    assert_nothing_stored(client, settings)


def test_upload_without_file_or_not_multipart(client: TestClient, settings: Settings) -> None:
    r = client.post("/upload", data={"name": "x"}, files={"other": ("a.csv", b"text,label\n")})
    assert (r.status_code, r.json()["code"]) == (422, "missing_file")
    r = client.post("/upload", json={"file": "text,label"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_upload")
    assert_nothing_stored(client, settings)


@pytest.fixture
def small_limit_client(data_dir: Path) -> Iterator[tuple[TestClient, Settings]]:
    settings = Settings(data_dir=data_dir, frontend_dist=data_dir / "no-ui", max_upload_mb=1)
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        yield c, settings


def test_too_large_upload_is_refused_from_content_length(
    small_limit_client: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, settings = small_limit_client
    r = post_file(client, write_csv(tmp_path / "big.csv", many_rows(60_000)))
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    assert r.json()["details"] == {"max_mb": 1}
    assert_nothing_stored(client, settings)


def test_too_large_chunked_upload_is_stopped_while_streaming(
    small_limit_client: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, settings = small_limit_client
    boundary = uuid.uuid4().hex
    body = write_csv(tmp_path / "big.csv", many_rows(60_000)).read_bytes()

    def chunks() -> Iterator[bytes]:  # a generator body: sent chunked, without Content-Length
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'.encode()
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/upload", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    assert_nothing_stored(client, settings)


def test_parts_left_by_a_killed_server_are_swept(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    incoming = settings.uploads_dir / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    stale, fresh = incoming / "old.part", incoming / "busy.part"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"another upload in flight")
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    assert post_file(client, write_csv(tmp_path / "d.csv", many_rows(10))).status_code == 201
    assert not stale.exists() and fresh.exists()


def test_rows_pagination_filters_and_search(client: TestClient, tmp_path: Path) -> None:
    rows = [r + ["train" if i < 20 else "test"] for i, r in enumerate(many_rows(25))]
    ds = post_file(client, write_csv(tmp_path / "d.csv", rows, ["text", "label", "split"])).json()
    url = f"/api/datasets/{ds['id']}/rows"
    page = client.get(url, params={"page": 3, "page_size": 10}).json()
    assert (page["total"], page["page"], page["page_size"]) == (25, 3, 10)
    assert [r["idx"] for r in page["items"]] == list(range(20, 25))
    assert client.get(url, params={"page": 4, "page_size": 10}).json()["items"] == []
    page = client.get(url, params={"label": "负面", "split": "train"}).json()
    assert page["total"] == 10 and {(r["label"], r["split"]) for r in page["items"]} == {("负面", "train")}
    page = client.get(url, params={"q": "第2"}).json()  # 第2, 第20..第24
    assert sorted(r["idx"] for r in page["items"]) == [2, 20, 21, 22, 23, 24]
    assert client.get(url, params={"q": "没有这句"}).json() == {"items": [], "total": 0, "page": 1, "page_size": 50}
    for bad in ({"page": 0}, {"page_size": 501}, {"split": "holdout"}):
        r = client.get(url, params=bad)
        assert r.status_code == 422 and r.json()["code"] in ("validation_error", "invalid_split")
    stats = client.get(f"/api/datasets/{ds['id']}/stats").json()
    assert stats["split_label_counts"] == {"train": {"正面": 10, "负面": 10}, "test": {"正面": 3, "负面": 2}}


def test_get_rename_delete(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    ds = post_file(client, write_csv(tmp_path / "d.csv", many_rows(20))).json()
    url = f"/api/datasets/{ds['id']}"
    assert client.get(url).json()["report"] == ds["report"]
    r = client.patch(url, json={"name": "外卖", "description": "第一版"})
    assert (r.json()["name"], r.json()["description"]) == ("外卖", "第一版")
    assert client.get("/api/datasets").json()[0]["name"] == "外卖"
    assert client.patch(url, json={"name": ""}).status_code == 422
    assert client.delete(url).status_code == 204
    for r in (client.get(url), client.get(url + "/rows"), client.get(url + "/stats"), client.delete(url)):
        assert (r.status_code, r.json()["code"]) == (404, "dataset_not_found")
    assert_nothing_stored(client, settings)


def test_data_survives_an_app_restart(settings: Settings, tmp_path: Path) -> None:
    with TestClient(create_app(settings), base_url=LOCAL_URL) as first:
        ds = post_file(first, write_csv(tmp_path / "d.csv", many_rows(30))).json()
    with TestClient(create_app(settings), base_url=LOCAL_URL) as second:
        again = second.get(f"/api/datasets/{ds['id']}").json()
        assert again["content_hash"] == ds["content_hash"]
        assert second.get(f"/api/datasets/{ds['id']}/rows").json()["total"] == 30


def test_live_server_streams_uploads_limits_and_restarts(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_TRAINER_MAX_UPLOAD_MB", "1")
    big = write_csv(tmp_path / "big.csv", many_rows(60_000))
    with run_server(data_dir) as url, httpx.Client(base_url=url, timeout=60) as http:
        r = post_file(http, big)
        assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
        ds = post_file(http, write_csv(tmp_path / "ok.csv", many_rows(2_000))).json()
        assert ds["row_count"] == 2_000
    with run_server(data_dir) as url:
        assert httpx.get(f"{url}/datasets").json()[0]["content_hash"] == ds["content_hash"]
    assert [p.name for p in (data_dir / "uploads").rglob("*") if p.is_file()] == ["ok.csv"]


@pytest.mark.slow
def test_real_waimai_file_and_its_gbk_and_xlsx_copies(client: TestClient, tmp_path: Path) -> None:
    source = SHARED_DATASETS / "waimai_10k.csv"
    if not source.exists():
        pytest.skip(f"{source} not present")
    ds = post_file(client, source).json()
    assert (ds["row_count"], ds["labels"], ds["encoding"]) == (11_973, {"0": 7_980, "1": 3_993}, "utf-8")
    with open(source, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1::4]  # the file is sorted by label: every 4th row has both
    gbk = tmp_path / "waimai_gbk.csv"  # as Excel on Chinese Windows saves it: characters outside GBK become '?'
    gbk.write_bytes(csv_text(rows).encode("gbk", "replace"))
    ds_gbk = post_file(client, gbk).json()
    assert (ds_gbk["encoding"], ds_gbk["rows_read"]) == ("gb18030", len(rows))
    assert set(ds_gbk["labels"]) == {"0", "1"}
    xlsx = write_xlsx(tmp_path / "waimai.xlsx", [[t, int(lbl)] for t, lbl in rows[:2000]])
    ds_xlsx = post_file(client, xlsx).json()
    assert (ds_xlsx["file_format"], ds_xlsx["rows_read"]) == ("xlsx", 2_000)
    first = client.get(f"/api/datasets/{ds_xlsx['id']}/rows", params={"page_size": 1}).json()["items"][0]
    assert (first["text"], first["label"]) == (rows[0][0], rows[0][1])
    news = post_file(client, SHARED_DATASETS / "thucnews_titles_10cls.csv").json()
    assert (news["num_labels"], news["rows_read"]) == (10, 19_972)


def test_upload_says_its_task_and_refuses_an_unknown_task(client, tmp_path) -> None:
    body = "text,label\n好吃,正面\n难吃,负面\n"
    ok = client.post("/api/datasets", files={"file": ("a.csv", body.encode(), "text/csv")})
    assert ok.status_code == 201 and ok.json()["task"] == "classification"
    bad = client.post(
        "/api/datasets", files={"file": ("a.csv", body.encode(), "text/csv")}, data={"task": "summarisation"}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_task"
    assert len(client.get("/api/datasets").json()) == 1  # the refused upload left nothing behind


PAIRS_CSV = "text_a,text_b,label\n花呗怎么还,花呗如何还款,1\n借呗额度,花呗账单,0\n花呗分期,花呗能分期吗,1\n"


def test_an_upload_without_a_task_is_stored_as_the_task_its_layout_shows(client, settings, tmp_path) -> None:
    pairs = client.post("/api/datasets", files={"file": ("afqmc.csv", PAIRS_CSV.encode(), "text/csv")})
    assert pairs.status_code == 201, pairs.text
    assert pairs.json()["task"] == "pair"
    assert pairs.json()["report"]["task_detection"] == {"task": "pair", "evidence": ["text_a", "text_b"], "asked": None}
    chat = b'{"instruction": "\xe7\xbf\xbb\xe8\xaf\x91", "input": "hi", "output": "\xe4\xbd\xa0\xe5\xa5\xbd"}\n'
    auto = client.post("/api/datasets", files={"file": ("alpaca.jsonl", chat)}, data={"task": "auto"})
    assert auto.status_code == 201, auto.text
    assert auto.json()["task"] == "generation"


def test_an_upload_whose_task_differs_from_its_layout_is_kept_with_a_warning_naming_the_layout(client) -> None:
    r = client.post(
        "/api/datasets", files={"file": ("afqmc.csv", PAIRS_CSV.encode(), "text/csv")}, data={"task": "classification"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["task"] == "classification"
    warning = next(w for w in r.json()["report"]["warnings"] if w["code"] == "task_looks_different")
    assert warning["details"] == {"task": "pair", "asked": "classification", "evidence": ["text_a", "text_b"]}
    assert r.json()["report"]["task_detection"]["asked"] == "classification"


def test_an_upload_its_task_cannot_read_is_refused_naming_the_task_it_looks_like(client, settings, tmp_path) -> None:
    chat = '{"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]}\n'
    r = client.post("/api/datasets", files={"file": ("chat.jsonl", chat.encode())}, data={"task": "classification"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "missing_columns"
    assert body["details"]["suggested_task"] == "generation" and body["details"]["evidence"] == ["messages"]
    assert "looks like generation data (messages)" in body["message"]
    assert_nothing_stored(client, settings)

"""The hostile-input catalogue: every case is answered 4xx with a stable code (or accepted safely), leaves no row or
file behind, and the server answers health within a second right after."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from openpyxl import Workbook

from llm_trainer.core.config import Settings

GOOD_ROWS = "".join(f"{t},{lab}\n" for t, lab in [("好吃", "好"), ("难吃", "差"), ("不错", "好"), ("太差", "差")] * 3)
GOOD_CSV = ("text,label\n" + GOOD_ROWS).encode()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rezip(data: bytes, edit: Callable[[str, bytes], bytes]) -> bytes:
    """A copy of the workbook zip with each member passed through `edit(name, content)`."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def zip_bomb_xlsx() -> bytes:
    good = xlsx_bytes([["text", "label"], ["好吃", "好"], ["难吃", "差"]])
    # 200 MB of spaces inside the sheet XML compress to ~200 KB.
    return rezip(
        good, lambda n, b: b.replace(b"</worksheet>", b" " * 200_000_000 + b"</worksheet>") if "sheet1" in n else b
    )


def huge_dimension_xlsx() -> bytes:
    good = xlsx_bytes([["text", "label"]] + [[t, lab] for t, lab in [("好吃", "好"), ("难吃", "差")] * 6])
    return rezip(good, lambda n, b: b.replace(b'<dimension ref="A1:B13"/>', b'<dimension ref="A1:XFD1048576"/>'))


def deep_json(depth: int) -> bytes:
    return (
        json.dumps({"text": "好", "label": "a", "x": None}).replace("null", "[" * depth + "]" * depth) + "\n"
    ).encode()


@dataclass
class Upload:
    filename: str
    content: bytes
    fields: dict[str, str] | None = None


UPLOADS: dict[str, tuple[Upload, int, str]] = {
    "empty-file": (Upload("a.csv", b""), 422, "empty_dataset"),
    "header-only": (Upload("a.csv", b"text,label\n"), 422, "empty_dataset"),
    "single-label": (
        Upload("a.csv", b"text,label\n" + "".join(f"t{i},x\n" for i in range(20)).encode()),
        422,
        "too_few_labels",
    ),
    "random-bytes": (Upload("a.csv", bytes(range(256)) * 64), 422, "encoding_undetected"),
    "png-named-csv": (Upload("a.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16), 422, "encoding_undetected"),
    "csv-named-xlsx": (Upload("a.xlsx", GOOD_CSV), 422, "unsupported_format"),
    "truncated-xlsx": (Upload("a.xlsx", xlsx_bytes([["text", "label"], ["好", "a"]])[:300]), 422, "unsupported_format"),
    "xlsx-zip-bomb": (Upload("a.xlsx", zip_bomb_xlsx()), 413, "xlsx_too_large"),
    "xlsx-huge-dimension": (Upload("a.xlsx", huge_dimension_xlsx()), 201, ""),
    "xls-old-excel": (Upload("a.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 600), 422, "unsupported_format"),
    "exe-extension": (Upload("a.exe", b"MZ\x90\x00"), 422, "unsupported_format"),
    "30k-repeated-header": (Upload("a.csv", (",".join(["x"] * 30_000) + "\n1\n").encode()), 422, "too_many_columns"),
    "10k-columns": (
        Upload("a.csv", (",".join(f"c{i}" for i in range(10_000)) + "\n").encode()),
        422,
        "too_many_columns",
    ),
    "long-header-cell": (Upload("a.csv", ("x" * 10_000 + ",label\n好,a\n").encode()), 422, "header_too_long"),
    "unbalanced-quotes": (Upload("a.csv", b'text,label\n"\xe5\xa5\xbd,a\n\xe5\xb7\xae,b\n'), 422, ""),
    "mixed-encodings": (
        Upload("a.csv", GOOD_CSV + "坏的,差\n".encode("gbk") * 3000 + GOOD_CSV),
        422,
        "encoding_undetected",
    ),
    "json-object-not-array": (Upload("a.json", b'{\n "text": "a",\n "label": "b"\n}'), 422, "malformed_file"),
    "jsonl-broken-line": (Upload("a.jsonl", b'{"text": "a", "label": "b"}\n{"text": \n'), 422, "malformed_file"),
    "jsonl-deep-nesting": (Upload("a.jsonl", deep_json(10_000)), 422, "json_too_deep"),
    "json-array-deep-nesting": (Upload("a.json", b"[" + deep_json(2_000).strip() + b"]"), 422, "json_too_deep"),
    "json-array-of-numbers": (Upload("a.json", b"[1, 2, 3]"), 422, "malformed_file"),
    "not-multipart": (Upload("", b""), 422, "invalid_upload"),
    "no-file-field": (Upload("", b"", {"name": "x"}), 422, "missing_file"),
    "too-many-form-fields": (Upload("a.csv", GOOD_CSV, {f"f{i}": "x" for i in range(40)}), 422, "too_many_fields"),
}


def send(client, upload: Upload):
    if upload.filename == "" and upload.fields is None:
        return client.post("/upload", content=b"text,label\n", headers={"content-type": "text/csv"})
    if not upload.filename:  # multipart with text fields only
        return client.post("/upload", files={k: (None, v) for k, v in (upload.fields or {}).items()})
    return client.post("/upload", files={"file": (upload.filename, upload.content)}, data=upload.fields or {})


def assert_alive_and_clean(client, settings: Settings, expect_datasets: int = 0) -> float:
    started = time.perf_counter()
    assert client.get("/api/health").status_code == 200
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert len(client.get("/api/datasets").json()) == expect_datasets
    incoming = settings.uploads_dir / "incoming"
    assert not (incoming.exists() and any(incoming.iterdir())), "a half-received upload was left"
    stored = [p for p in settings.uploads_dir.iterdir() if p.name.isdigit()]  # one folder per stored dataset
    assert len(stored) == expect_datasets
    return elapsed


@pytest.mark.parametrize("case", list(UPLOADS), ids=list(UPLOADS))
def test_hostile_upload_is_refused_cleanly_or_stored_safely(client, settings, case):
    upload, status, code = UPLOADS[case]
    r = send(client, upload)
    assert r.status_code == status, r.text[:300]
    if status >= 400:
        body = r.json()
        assert body["message"] and (body["code"] == code or not code), body
    assert_alive_and_clean(client, settings, expect_datasets=1 if status == 201 else 0)


def test_over_size_upload_is_413_and_leaves_nothing(data_dir):
    from fastapi.testclient import TestClient

    from llm_trainer.api.app import create_app
    from tests.conftest import LOCAL_URL

    settings = Settings(data_dir=data_dir, frontend_dist=data_dir / "no-ui", max_upload_mb=1)
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        r = c.post("/upload", files={"file": ("a.csv", GOOD_CSV * 200_000)})
        assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
        assert_alive_and_clean(c, settings)


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.csv", "/abs/path/x.csv", "a\x00b.csv", "<img src=x onerror=alert(1)>.csv", "长" * 400 + ".csv"],
    ids=["dotdot", "absolute", "nul-byte", "html", "over-long"],
)
def test_hostile_file_names_are_stored_under_generated_ids_and_shown_as_text(client, settings, filename):
    r = client.post("/upload", files={"file": (filename, GOOD_CSV)})
    assert r.status_code == 201, r.text[:300]
    dataset = r.json()
    folder = settings.uploads_dir / str(dataset["id"])
    stored = list(folder.iterdir())
    assert len(stored) == 1 and stored[0].parent == folder  # nothing escaped the dataset's own folder
    assert "\x00" not in stored[0].name and "/" not in stored[0].name and len(stored[0].name.encode()) <= 255
    assert "\x00" not in dataset["filename"]


def test_cells_with_nul_bytes_and_a_million_character_text_are_cleaned_and_reported(client):
    content = "text,label\n" + "好\x00吃,好\n" + "长" * 1_000_000 + ",差\n" + GOOD_ROWS
    r = client.post("/upload", files={"file": ("a.csv", content.encode())})
    assert r.status_code == 201, r.text[:300]
    report = r.json()["report"]
    assert report["texts_cut"] == 1 and report["nul_cells_cleaned"] == 1
    assert {w["code"] for w in report["warnings"]} >= {"texts_cut", "nul_removed"}
    rows = client.get(f"/api/datasets/{r.json()['id']}/rows", params={"page_size": 100}).json()["items"]
    assert max(len(row["text"]) for row in rows) == 100_000 and "好吃" in [row["text"] for row in rows]


@pytest.mark.parametrize("labels", [["1", "1.0", " 1", "１"]], ids=["look-alike-ones"])
def test_look_alike_labels_are_kept_apart_as_typed(client, labels):
    content = "text,label\n" + "".join(f"文本{i}{j},{lab}\n" for j, lab in enumerate(labels) for i in range(5))
    r = client.post("/upload", files={"file": ("a.csv", content.encode())})
    assert r.status_code == 201, r.text[:300]
    assert len(r.json()["labels"]) >= 2  # trimmed " 1" may join "1"; the others stay distinct classes


JSON_CASES: dict[str, tuple[str, str, object, int, str]] = {
    "predict-before-any-model": ("POST", "/predict", {"text": "好吃"}, 409, "no_model"),
    "predict-malformed-json": ("POST", "/predict", b'{"text": ', 422, "validation_error"),
    "predict-wrong-type": ("POST", "/predict", {"text": 5}, 422, "validation_error"),
    "predict-empty-object": ("POST", "/predict", {}, 422, ""),
    "predict-body-too-large": ("POST", "/predict", {"text": "长" * 600_000}, 413, "body_too_large"),
    "train-unknown-dataset": ("POST", "/train", {"dataset_id": 999, "base_model": "tfidf"}, 422, "dataset_not_found"),
    "train-negative-epochs": (
        "POST",
        "/train",
        {"dataset_id": 1, "base_model": "tfidf", "config": {"epochs": -1}},
        422,
        "",
    ),
    "train-huge-lr": (
        "POST",
        "/train",
        {"dataset_id": 1, "base_model": "tfidf", "config": {"learning_rate": 1e9}},
        422,
        "",
    ),
    "train-folder-outside-roots": ("POST", "/api/base-models/check", {"source": "/etc"}, 422, "model_source_forbidden"),
    "train-unknown-hub-id-offline": ("POST", "/api/base-models/check", {"source": "nobody/nothing-here"}, 503, ""),
    "unknown-dataset-id": ("GET", "/api/datasets/999", None, 404, "dataset_not_found"),
    "unknown-model-delete": ("DELETE", "/api/models/999", None, 404, ""),
    "non-numeric-run-id": ("GET", "/api/runs/abc", None, 422, "validation_error"),
    "unknown-batch-job": ("GET", "/api/predict/batch/999", None, 404, ""),
}


@pytest.mark.parametrize("case", list(JSON_CASES), ids=list(JSON_CASES))
def test_hostile_request_is_answered_with_a_code_and_changes_nothing(client, settings, case):
    method, path, body, status, code = JSON_CASES[case]
    if isinstance(body, bytes):
        r = client.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        r = client.request(method, path, json=body)
    assert r.status_code == status, r.text[:300]
    assert r.json()["message"] and (r.json()["code"] == code or not code), r.json()
    assert "/tmp/" not in r.text and str(settings.data_dir) not in r.text  # no absolute paths in answers
    assert client.get("/api/runs").json()["total"] == 0 and not client.get("/models").json()
    assert_alive_and_clean(client, settings)


def test_too_many_texts_in_one_predict_call_is_refused_with_the_limit(client, settings):
    from tests.helpers.versions import make_tfidf_version

    make_tfidf_version(settings)
    r = client.post("/predict", json={"texts": ["好吃"] * (settings.predict_max_texts + 1)})
    assert r.status_code in (413, 422) and str(settings.predict_max_texts) in r.json()["message"]
    assert client.post("/predict", json={"texts": ["好吃"] * 3}).status_code == 200

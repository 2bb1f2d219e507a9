"""`POST /predict` and batch file prediction through the real app (tiny fine-tuned BERT, real SQLite, real uvicorn)."""

from __future__ import annotations

import csv
import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import LOCAL_URL
from tests.helpers.versions import make_tfidf_version, make_version, review_texts


def test_single_text_answers_label_score_sorted_probabilities_version_and_latency(client, settings):
    version_id = make_version(settings)
    r = client.post("/predict", json={"text": "这家店很好吃，推荐"})
    assert r.status_code == 200
    body = r.json()
    assert body["model_id"] == version_id and body["variant"] == "pytorch"
    assert body["label"] == "好评" and body["predictions"][0]["label"] == "好评"
    probs = [c["probability"] for c in body["probabilities"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0)
    assert body["score"] == probs[0]
    assert body["latency_ms"] > 0 and body["load_ms"] is not None  # the first request paid the load
    assert client.post("/api/predict", json={"text": "难吃，太慢"}).json()["load_ms"] is None


def test_batch_of_texts_in_order_with_truncation_flag(client, settings):
    make_version(settings)
    texts = ["难吃，失望", "服务很好，满意", "不错" * 1500]
    r = client.post("/predict", json={"texts": texts})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["label"] for p in preds] == ["差评", "好评", "好评"]
    assert [p["truncated"] for p in preds] == [False, False, True]  # over predict_max_chars: cut, not refused
    assert r.json()["label"] is None  # the top-level shortcut is only for {"text": ...}


def test_tfidf_version_served_by_the_same_api(client, settings):
    version_id = make_tfidf_version(settings)
    body = client.post("/predict", json={"texts": ["很好吃，推荐"], "model_id": version_id}).json()
    assert body["variant"] == "tfidf" and body["predictions"][0]["label"] == "好评"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"text": ""}, 422, "empty_text"),
        ({"text": "   "}, 422, "empty_text"),
        ({"texts": []}, 422, "empty_text"),
        ({"texts": ["好"] * 257}, 413, "too_many_texts"),
        ({"text": "好", "texts": ["好"]}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"text": "好", "model_id": 999}, 404, "model_not_found"),
        ({"text": "好", "variant": "onnx_int8"}, 422, "variant_not_built"),
    ],
)
def test_bad_requests_are_answered_clearly(client, settings, payload, status, code):
    make_version(settings)
    r = client.post("/predict", json=payload)
    assert r.status_code == status
    assert r.json()["code"] == code
    assert len(r.json()["message"]) > 20


def test_no_model_yet_says_train_one_first(client):
    r = client.post("/predict", json={"text": "好吃"})
    assert (r.status_code, r.json()["code"]) == (409, "no_model") and "Train one first" in r.json()["message"]


def test_concurrent_clients_each_get_their_own_answer(live_server, settings):
    version_id = make_version(settings)
    rows = review_texts(48, seed=21)
    with httpx.Client(base_url=live_server, timeout=60) as http:
        expected = http.post("/predict", json={"texts": [t for t, _ in rows], "model_id": version_id}).json()
        expected_by_text = {t: p for (t, _), p in zip(rows, expected["predictions"], strict=True)}

        def ask(text):
            return text, http.post("/predict", json={"text": text, "model_id": version_id})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, [t for t, _ in rows]))
    for text, r in answers:
        assert r.status_code == 200
        assert r.json()["label"] == expected_by_text[text]["label"]
        assert r.json()["score"] == pytest.approx(expected_by_text[text]["score"], abs=1e-5)


def _wait_job(client, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/predict/batch/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_gbk_file_with_label_column_gives_full_csv_accuracy_and_neutralised_formulas(client, settings):
    make_version(settings)
    rows = review_texts(30, seed=5)
    rows[3] = ('=HYPERLINK("http://x","难吃")', "差评")
    rows[4] = ("@SUM(1+1) 很好吃", "好评")
    lines = ["编号,评论,标签"] + [f'{i},"{t.replace(chr(34), chr(34) * 2)}",{lbl}' for i, (t, lbl) in enumerate(rows)]
    lines.append("30,,好评")  # a blank text still appears in the output, with no prediction
    data = ("\r\n".join(lines) + "\r\n").encode("gbk")
    r = client.post("/api/predict/batch", files={"file": ("评论.csv", data, "text/csv")})
    assert r.status_code == 202, r.text
    assert (r.json()["text_column"], r.json()["label_column"]) == ("评论", "标签")
    job = _wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded", job["error_message"]
    assert (job["total"], job["done"], job["progress"]) == (31, 31, 1.0)

    download = client.get(f"/api/predict/batch/{job['id']}/download")
    assert download.status_code == 200
    assert download.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens Chinese correctly
    out = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert out[0] == ["编号", "评论", "标签", "predicted_label", "probability"]
    assert len(out) == 32
    assert out[4][1].startswith("'=HYPERLINK") and out[5][1].startswith("'@SUM")
    assert out[31][3:] == ["", ""]
    predicted = [row[3] for row in out[1:31]]
    assert all(label in ("好评", "差评") for label in predicted)
    assert all(0.5 <= float(row[4]) <= 1.0 for row in out[1:31])
    accuracy = sum(p == lbl for p, (_, lbl) in zip(predicted, rows, strict=True)) / 30
    assert job["evaluation"]["accuracy"] == pytest.approx(accuracy)
    assert job["evaluation"]["count"] == 30 and accuracy >= 0.9
    assert "macro_f1" in job["evaluation"]


def test_xlsx_without_label_column_and_bad_files(client, settings):
    from openpyxl import Workbook

    make_version(settings)
    book = Workbook()
    book.active.append(["text"])
    for text in ["好吃", "难吃", "-5 分，太慢"]:
        book.active.append([text])
    buf = io.BytesIO()
    book.save(buf)
    r = client.post("/api/predict/batch", files={"file": ("reviews.xlsx", buf.getvalue())})
    assert r.status_code == 202, r.text
    job = _wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded" and job["evaluation"] is None
    out = list(csv.reader(io.StringIO(client.get(f"/api/predict/batch/{job['id']}/download").text.lstrip("\ufeff"))))
    assert [row[0] for row in out[1:]] == ["好吃", "难吃", "'-5 分，太慢"]

    missing = client.post(
        "/api/predict/batch", files={"file": ("a.csv", "内容\n好吃\n".encode())}, data={"text_column": "正文"}
    )
    assert missing.status_code == 422 and missing.json()["code"] == "missing_columns"
    empty = client.post("/api/predict/batch", files={"file": ("a.csv", b"")})
    assert empty.status_code == 422
    assert len(list((settings.uploads_dir / "batch").iterdir())) == 1  # refused uploads leave nothing behind
    assert client.get("/api/predict/batch/999").status_code == 404


def test_batch_jobs_cut_by_a_restart_start_again(settings):
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy import update

    from llm_trainer.api.app import create_app
    from llm_trainer.db.models import BatchJob

    make_version(settings)
    data = ("评论\n" + "\n".join(t for t, _ in review_texts(20, seed=2)) + "\n").encode("utf-8")
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        first, second = (client.post("/api/predict/batch", files={"file": ("a.csv", data)}).json() for _ in range(2))
        for job in (first, second):
            assert _wait_job(client, job["id"])["status"] == "succeeded"
        factory = client.app.state.session_factory
    # As if the server had died mid-way: both jobs still running, and the second one's uploaded file lost.
    with factory() as session, session.begin():
        session.execute(update(BatchJob).values(status="running", done=5, finished_at=None, output_path=""))
        input_path = session.get(BatchJob, second["id"]).input_path
    Path(input_path).unlink()
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        resumed, lost = _wait_job(client, first["id"]), _wait_job(client, second["id"])
        assert (resumed["status"], resumed["done"], resumed["total"]) == ("succeeded", 20, 20)
        assert client.get(f"/api/predict/batch/{first['id']}/download").status_code == 200
        assert lost["status"] == "failed" and "Upload the file again" in lost["error_message"]


def test_file_prediction_with_a_pair_version_is_refused_and_leaves_nothing(client, settings):
    version_id = make_tfidf_version(settings, task="pair")
    data = "text\n好吃\n".encode()
    r = client.post(
        "/api/predict/batch", files={"file": ("pairs.csv", data, "text/csv")}, data={"model_id": version_id}
    )
    assert r.status_code == 422 and r.json()["code"] == "batch_task_unsupported", r.text
    assert "POST /api/predict" in r.json()["message"]
    batch_dir = settings.uploads_dir / "batch"
    assert not (batch_dir.exists() and any(batch_dir.iterdir()))
    assert client.get("/api/predict/batch").json() == []

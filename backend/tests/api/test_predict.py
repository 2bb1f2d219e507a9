"""`POST /predict` and batch file prediction through the real app (tiny fine-tuned BERT, real SQLite, real uvicorn)."""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from llm_trainer.api.app import create_app
from tests.conftest import LOCAL_URL
from tests.helpers.runs import finished, wait_run
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


def test_a_version_loaded_in_the_background_answers_its_first_request_without_waiting(client, settings):
    version_id = make_version(settings)
    started = client.post("/api/predict/load", json={"model_id": version_id})
    assert started.status_code == 202, started.text
    assert started.json() == {"model_id": version_id, "variant": "pytorch", "loaded": False}
    assert client.post("/api/predict/load", json={}).json()["model_id"] == version_id, "no id: the default version"

    deadline = time.monotonic() + 60
    while "pytorch" not in client.get(f"/api/models/{version_id}").json()["loaded_variants"]:
        assert time.monotonic() < deadline, "the background load never finished"
        time.sleep(0.1)
    assert client.post("/api/predict/load", json={"model_id": version_id}).json()["loaded"] is True
    answer = client.post("/predict", json={"text": "这家店很好吃，推荐", "model_id": version_id}).json()
    assert answer["label"] == "好评" and answer["load_ms"] is None, "the first prediction found it loaded"

    missing = client.post("/api/predict/load", json={"model_id": 999})
    assert (missing.status_code, missing.json()["code"]) == (404, "model_not_found")
    unbuilt = client.post("/api/predict/load", json={"model_id": version_id, "variant": "onnx_int8"})
    assert (unbuilt.status_code, unbuilt.json()["code"]) == (422, "variant_not_built")


@pytest.mark.parametrize("preload", [True, False])
def test_a_starting_server_loads_its_default_version_before_the_first_request_unless_told_not_to(settings, preload):
    settings = settings.model_copy(update={"preload_default": preload})
    app = create_app(settings)  # migrates the database the version goes into
    version_id = make_version(settings)
    with TestClient(app, base_url=LOCAL_URL) as client:
        deadline = time.monotonic() + 60
        while preload and "pytorch" not in client.get(f"/api/models/{version_id}").json()["loaded_variants"]:
            assert time.monotonic() < deadline, "the default version was not loaded at start-up"
            time.sleep(0.1)
        answer = client.post("/predict", json={"text": "这家店很好吃，推荐"}).json()
    assert answer["model_id"] == version_id
    assert (answer["load_ms"] is None) is preload, "preloaded: the first request waits for nothing"


def test_batch_of_texts_in_order_with_truncation_flag(client, settings):
    make_version(settings)
    texts = ["难吃，失望", "服务很好，满意", "不错" * 1500]
    r = client.post("/predict", json={"texts": texts})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["label"] for p in preds] == ["差评", "好评", "好评"]
    assert [p["truncated"] for p in preds] == [False, False, True]  # over predict_max_chars: cut, not refused
    assert r.json()["label"] is None  # the top-level shortcut is only for {"text": ...}


def test_a_text_longer_than_the_max_length_is_read_in_windows_and_the_answer_says_how_many(client, settings):
    make_version(settings)
    long = "这家店的菜很好吃，服务很好，" * 30  # ~400 characters: several windows of the version's max length
    single = client.post("/predict", json={"text": long}).json()
    assert single["windows"] > 1 and single["truncated"] is False and single["label"] == "好评"
    preds = client.post("/predict", json={"texts": ["难吃，失望", long]}).json()["predictions"]
    assert [p["windows"] for p in preds] == [1, single["windows"]]


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
    from sqlalchemy import text, update

    from llm_trainer.api.app import create_app
    from llm_trainer.db.models import BatchJob, Job

    make_version(settings)
    data = ("评论\n" + "\n".join(t for t, _ in review_texts(20, seed=2)) + "\n").encode("utf-8")
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        first, second = (client.post("/api/predict/batch", files={"file": ("a.csv", data)}).json() for _ in range(2))
        for job in (first, second):
            assert _wait_job(client, job["id"])["status"] == "succeeded"
        factory = client.app.state.session_factory
    # As if the server had died mid-way: both jobs still running under a dead owner, the second one's file lost.
    with factory() as session, session.begin():
        session.execute(update(BatchJob).values(status="running", done=5, finished_at=None, output_path=""))
        session.execute(update(Job).values(status="running", owner=f"{socket.gethostname()}:1:0", finished_at=None))
        input_path = session.get(BatchJob, second["id"]).input_path
    Path(input_path).unlink()
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        resumed, lost = _wait_job(client, first["id"]), _wait_job(client, second["id"])
        assert (resumed["status"], resumed["done"], resumed["total"]) == ("succeeded", 20, 20)
        assert client.get(f"/api/predict/batch/{first['id']}/download").status_code == 200
        assert lost["status"] == "failed" and "Upload the file again" in lost["error_message"]
        listed = client.get("/api/jobs", params={"kind": "batch_predict"}).json()
        assert [(j["status"], j["attempts"]) for j in listed] == [("failed", 1), ("succeeded", 2)]
        assert listed[1]["progress"]["done"] == 20 and listed[1]["duration_s"] >= 0
        with factory() as session:
            assert {job.status for job in session.query(Job)} == {"succeeded", "failed"}
            if session.bind.dialect.name == "sqlite":
                assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def _train_baseline(client, dataset: dict) -> int:
    """Train the task's classical baseline (TF-IDF, one-vs-rest, pair features, CRF) and return its version id."""
    resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": "tfidf", "config": {}})
    assert resp.status_code == 201, resp.text
    run = wait_run(client.get, resp.json()["id"], finished, timeout=120)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    return run["model_version_ids"][0]


def _predict_file(client, filename: str, body: bytes, version_id: int, **columns) -> list[list[str]]:
    """Upload a file for prediction, wait for the job and return the downloaded CSV's rows (header first)."""
    r = client.post("/api/predict/batch", files={"file": (filename, body)}, data={"model_id": version_id, **columns})
    assert r.status_code == 202, r.text
    job = _wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded", job["error_message"]
    return list(csv.reader(io.StringIO(client.get(f"/api/predict/batch/{job['id']}/download").text.lstrip("\ufeff"))))


def test_multi_label_file_gets_passing_labels_and_one_probability_column_per_label(client) -> None:
    from tests.api.test_multi_label_task import ASPECTS, label_sets, upload

    rows = label_sets(60)
    dataset = upload(client, "text,labels\n" + "".join(f'{t},"{"|".join(ls)}"\n' for t, ls in rows)).json()
    version_id = _train_baseline(client, dataset)
    texts = ["好吃，送餐太慢", "服务很好", "=味道不错"]
    body = ("编号,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts)) + "3,\n").encode("utf-8")
    out = _predict_file(client, "多标签.csv", body, version_id)

    labels = sorted(ASPECTS)
    assert out[0] == ["编号", "text", "predicted_labels", *(f"probability_{name}" for name in labels)]
    assert len(out) == 5 and out[3][1] == "'=味道不错" and out[4][2:] == [""] * 4
    answers = client.post("/predict", json={"model_id": version_id, "texts": texts}).json()["predictions"]
    for row, answer in zip(out[1:4], answers, strict=True):  # the file says what online prediction says
        assert row[2].split("|") == answer["labels"] if answer["labels"] else row[2] == ""
        by_label = {p["label"]: p["probability"] for p in answer["probabilities"]}
        assert [float(x) for x in row[3:]] == pytest.approx([by_label[name] for name in labels], abs=1e-6)
    assert "味道" in out[1][2].split("|") and "配送" in out[1][2].split("|")


def test_pair_file_with_query_title_columns_gets_a_label_per_pair_and_accuracy(client) -> None:
    from tests.api.test_pair_task import pair_csv, upload_pairs

    version_id = _train_baseline(client, upload_pairs(client, pair_csv(120)))
    pairs = [("好吃", "很好，不错"), ("不错", "难吃，太慢"), ("满意", "推荐，喜欢"), ("好吃", "")]
    body = "query,title,label\n" + "".join(f"{a},{b},{int(i % 2 == 0)}\n" for i, (a, b) in enumerate(pairs))
    r = client.post("/api/predict/batch", files={"file": ("pairs.csv", body.encode())}, data={"model_id": version_id})
    assert r.status_code == 202, r.text
    assert (r.json()["text_column"], r.json()["text_b_column"], r.json()["label_column"]) == ("query", "title", "label")
    job = _wait_job(client, r.json()["id"])
    out = list(csv.reader(io.StringIO(client.get(f"/api/predict/batch/{job['id']}/download").text.lstrip("\ufeff"))))

    assert out[0] == ["query", "title", "label", "predicted_label", "probability"]
    answers = client.post(
        "/predict", json={"model_id": version_id, "pairs": [{"text_a": a, "text_b": b} for a, b in pairs[:3]]}
    ).json()["predictions"]
    assert [row[3] for row in out[1:4]] == [a["label"] for a in answers]
    assert [float(row[4]) for row in out[1:4]] == pytest.approx([a["score"] for a in answers], abs=1e-6)
    assert out[4][3:] == ["", ""]  # a pair with an empty side gets no prediction
    assert job["evaluation"]["count"] == 3

    one_column = client.post(
        "/api/predict/batch", files={"file": ("a.csv", "句子1\n好吃\n".encode())}, data={"model_id": version_id}
    )
    assert one_column.status_code == 422 and one_column.json()["details"]["role"] == "text_b", one_column.text


def test_ner_jsonl_file_gets_entities_json_with_code_point_offsets(client) -> None:
    from tests.api.test_ner_task import ner_jsonl, upload_ner

    version_id = _train_baseline(client, upload_ner(client, ner_jsonl(150)))
    texts = ["我叫李四，住在杭州。", "😀😀我叫李四，住在杭州。", "今天下雨"]
    lines = [json.dumps({"text": t, "entities": []}, ensure_ascii=False) for t in texts]
    out = _predict_file(client, "待识别.jsonl", "\n".join(lines).encode("utf-8"), version_id)

    assert out[0] == ["text", "entities", "predicted_entities"]  # the file's own column keeps its name
    found = [json.loads(row[2]) for row in out[1:]]
    assert {(e["text"], e["label"]) for e in found[0]} >= {("李四", "name"), ("杭州", "city")}
    for text, entities in zip(texts, found, strict=True):
        assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)  # end exclusive, code points
        assert set(entities[0]) == {"start", "end", "label", "text", "score"} if entities else True
    name = next(e for e in found[1] if e["text"] == "李四")
    assert (name["start"], name["end"]) == (4, 6)  # the two emoji count one each, not two UTF-16 units
    assert '"李四"' in out[2][2]  # ensure_ascii=False: a spreadsheet shows the Chinese, not \\u escapes
    answer = client.post("/predict", json={"model_id": version_id, "text": texts[1]}).json()
    assert found[1] == answer["entities"]

"""Sentence pairs over the API: upload with Chinese headers, the pair report, train (TF-IDF and a tiny
cross-encoder), predict {text_a, text_b} and lists of pairs."""

from __future__ import annotations

import csv
import io
import json
import random

from tests.helpers.runs import finished, wait_fast_copy, wait_run
from tests.helpers.training_data import NEGATIVE, POSITIVE


def pair_csv(n: int, headers: tuple[str, str, str] = ("句子1", "句子2", "标签"), seed: int = 0) -> bytes:
    """Same-sentiment pairs are 1, mixed pairs 0 (learnable from the words); one identical and one conflicting pair."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for i in range(n):
        a = rng.choice(POSITIVE)
        same = i % 2 == 0
        b = rng.choice(POSITIVE if same else NEGATIVE) + "，" + rng.choice(POSITIVE if same else NEGATIVE)
        writer.writerow([a, b, "1" if same else "0"])
    writer.writerow(["好吃", "好吃", "1"])  # identical pair
    writer.writerow(["不错", "差评", "0"])
    writer.writerow(["不错", "差评", "1"])  # the same pair with the other label
    return out.getvalue().encode("utf-8")


def upload_pairs(client, body: bytes) -> dict:
    resp = client.post("/api/datasets", files={"file": ("pairs.csv", body, "text/csv")}, data={"task": "pair"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_pair_upload_finds_chinese_headers_and_reports_lengths_identical_and_conflicting_pairs(client) -> None:
    dataset = upload_pairs(client, pair_csv(40))
    assert dataset["task"] == "pair"
    report = dataset["report"]
    assert report["source"]["text_column"] == "句子1" and report["source"]["text_b_column"] == "句子2"
    assert report["pairs"]["identical_pairs"] >= 1
    assert report["pairs"]["text_b_length"]["max"] > report["pairs"]["text_a_length"]["min"]
    assert report["conflicts"]["texts"] == 1
    assert report["conflicts"]["examples"][0]["text_a"] == "不错"
    assert {w["code"] for w in report["warnings"]} >= {"identical_pairs", "label_conflicts"}
    rows = client.get(f"/api/datasets/{dataset['id']}/rows").json()["items"]
    assert rows[0]["text_b"], "the second text is stored with the row"


def test_pair_upload_without_a_second_text_column_names_the_missing_role(client) -> None:
    resp = client.post(
        "/api/datasets", files={"file": ("p.csv", b"text_a,label\nx,1\ny,0\n", "text/csv")}, data={"task": "pair"}
    )
    assert resp.status_code == 422 and resp.json()["code"] == "missing_columns"
    assert resp.json()["details"]["role"] == "text_b"


def test_pair_tfidf_and_cross_encoder_versions_answer_pairs(client, tiny_model_dir, settings) -> None:
    dataset = upload_pairs(client, pair_csv(120, headers=("sentence1", "sentence2", "label")))
    runs = {}
    for base in ("tfidf", str(tiny_model_dir)):
        config = {"epochs": 4, "batch_size": 8, "learning_rate": 5e-3, "seed": 1}
        resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": base, "config": config})
        assert resp.status_code == 201, resp.text
        assert resp.json()["task"] == "pair"
        runs[base] = wait_run(client.get, resp.json()["id"], finished, timeout=240)
        assert runs[base]["status"] == "succeeded", runs[base]["error_message"] + runs[base]["log_tail"]

    baseline_version = runs["tfidf"]["model_version_ids"][0]
    meta = json.loads((settings.models_dir / str(baseline_version) / "llm_trainer.json").read_text("utf-8"))
    assert meta["task"] == "pair" and meta["kind"] == "tfidf" and meta["metrics"]["accuracy"] > 0.8

    [version] = runs[str(tiny_model_dir)]["model_version_ids"]
    model = client.get(f"/api/models/{version}").json()
    assert model["task"] == "pair" and 0 < model["metrics"]["baseline"]["accuracy"] <= 1
    one = client.post("/predict", json={"model_id": version, "text_a": "好吃", "text_b": "很好，不错"}).json()
    assert one["task"] == "pair" and one["label"] in {"0", "1"} and len(one["probabilities"]) == 2
    many = client.post(
        "/predict",
        json={
            "model_id": version,
            "pairs": [{"text_a": "好吃", "text_b": "难吃"}, {"text_a": "不错", "text_b": "很好"}],
        },
    ).json()
    assert len(many["predictions"]) == 2
    wrong = client.post("/predict", json={"model_id": version, "text": "好吃"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "pair_expected"
    # The cross-encoder gets its fast copy too; waiting for it keeps the in-process export from outliving the test.
    assert wait_fast_copy(client.get, version)["variants"]["onnx"]["status"] == "ready"

"""NER over the API: upload JSONL spans (and a refused span), the entity report, train the CRF baseline and a tiny
token classifier, predict entities with offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_trainer.db.base import session_scope
from llm_trainer.db.models import ModelVersion
from llm_trainer.db.repositories.datasets import task_rows
from llm_trainer.ml.tasks.ner.spec import split_ner
from llm_trainer.ml.tasks.spec import TaskRow
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.services.models import validation_sample
from tests.helpers.ner_data import ner_records
from tests.helpers.runs import default_answerer, finished, wait_fast_copy, wait_run
from tests.helpers.tiny_model import build_tiny_bert


def ner_jsonl(n: int) -> bytes:
    lines = [json.dumps(r, ensure_ascii=False) for r in ner_records(n)]
    lines.append(
        json.dumps({"text": "坏数据", "entities": [{"start": 1, "end": 9, "label": "city"}]}, ensure_ascii=False)
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def strip_scores(answer: dict) -> list[tuple]:
    return [(e["start"], e["end"], e["label"]) for e in answer["entities"]]


def upload_ner(client, body: bytes) -> dict:
    resp = client.post("/api/datasets", files={"file": ("ner.jsonl", body, "application/json")}, data={"task": "ner"})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def ner_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("ner-api-base"), [r["text"] for r in ner_records(150)])


def test_ner_upload_reports_entities_per_type_and_refused_lines(client) -> None:
    dataset = upload_ner(client, ner_jsonl(60))
    assert dataset["task"] == "ner"
    report = dataset["report"]
    assert set(report["label_counts"]) == {"name", "city", "company"}
    assert report["ner"]["refused"]["lines"] == [61]
    assert report["ner"]["refused"]["counts"] == {"out_of_range": 1}
    rows = client.get(f"/api/datasets/{dataset['id']}/rows").json()["items"]
    first = rows[0]
    assert [first["text"][e["start"] : e["end"]] for e in first["annotation"]] == [
        first["text"][e["start"] : e["end"]] for e in ner_records(1)[0]["entities"]
    ]


def test_crf_and_token_model_versions_tag_entities_with_offsets(client, ner_base, tmp_path) -> None:
    dataset = upload_ner(client, ner_jsonl(150))
    runs = {}
    for base, config in (
        ("tfidf", {}),
        (
            str(ner_base),
            {"epochs": 15, "batch_size": 16, "learning_rate": 3e-3, "freeze_embeddings": False, "max_length": 32},
        ),
    ):
        resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": base, "config": config})
        assert resp.status_code == 201, resp.text
        runs[base] = wait_run(client.get, resp.json()["id"], finished, timeout=400)
        assert runs[base]["status"] == "succeeded", runs[base]["error_message"] + runs[base]["log_tail"]

    crf_version = runs["tfidf"]["model_version_ids"][0]
    crf = client.get(f"/api/models/{crf_version}").json()
    assert crf["kind"] == "crf" and crf["metrics"]["micro_f1"] > 0.8

    [version] = runs[str(ner_base)]["model_version_ids"]
    model = client.get(f"/api/models/{version}").json()
    assert model["task"] == "ner" and model["key_metrics"]["micro_f1"] > 0.8
    assert 0 < model["key_metrics"]["baseline_micro_f1"] <= 1
    # The blend with the CRF was weighed on validation and is listed beside PyTorch with that record.
    assert set(model["variants"]) == {"pytorch", "onnx", "onnx_int8", "ensemble"}
    assert model["variants"]["ensemble"]["evaluation"]["model_value"] == model["metrics"]["micro_f1"]
    # Training queued the fast copy: it tags like PyTorch, and the version answers with it (or the blend reads it).
    detail = wait_fast_copy(client.get, version)
    onnx = detail["variants"]["onnx"]
    assert detail["serving_variant"] == default_answerer(detail, "onnx")
    assert onnx["status"] == "ready" and onnx["evaluation"]["agreement"] == 1.0, onnx
    assert onnx["evaluation"]["max_probability_diff"] < 1e-4
    text = "我叫李四，住在杭州。"
    for model_id in (version, crf_version):
        one = client.post("/predict", json={"model_id": model_id, "text": text}).json()
        assert one["task"] == "ner"
        found = {(e["text"], e["label"]) for e in one["entities"]}
        assert {("李四", "name"), ("杭州", "city")} <= found, one
        assert all(text[e["start"] : e["end"]] == e["text"] for e in one["entities"])
    by_variant = {
        v: client.post("/predict", json={"model_id": version, "text": text, "variant": v}).json()
        for v in ("pytorch", "onnx")
    }
    assert by_variant["onnx"]["variant"] == "onnx"
    assert strip_scores(by_variant["onnx"]) == strip_scores(by_variant["pytorch"])
    assert [e["score"] for e in by_variant["onnx"]["entities"]] == pytest.approx(
        [e["score"] for e in by_variant["pytorch"]["entities"]], abs=1e-5
    )
    wrong = client.post("/predict", json={"model_id": version, "text_a": "a", "text_b": "b"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "text_expected"


def test_an_ner_run_trains_five_epochs_unless_the_user_names_the_epochs(client) -> None:
    dataset = upload_ner(client, ner_jsonl(60))
    epochs = {}
    for name, config in (("default", {}), ("named", {"epochs": 2})):
        resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": "tfidf", "config": config})
        assert resp.status_code == 201, resp.text
        run = wait_run(client.get, resp.json()["id"], finished, timeout=120)
        epochs[name] = run["config"]["epochs"]
    assert epochs == {"default": 5, "named": 2}
    schema = client.get("/api/training/config-schema").json()
    assert schema["properties"]["epochs"]["x-task-defaults"] == {"ner": 5}


def test_a_fast_copy_is_checked_on_the_validation_texts_its_task_held_out(client, factory) -> None:
    """The export job rebuilds the version's validation part with the task's own split (NER's random hold-out, pairs
    as two texts), not the classification split of the rows."""
    dataset = upload_ner(client, ner_jsonl(60))
    resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": "tfidf", "config": {"seed": 3}})
    run = wait_run(client.get, resp.json()["id"], finished, timeout=120)
    [version_id] = run["model_version_ids"]
    with session_scope(factory) as session:
        texts, labels = validation_sample(session, session.get(ModelVersion, version_id))
        rows = [TaskRow(*r) for r in task_rows(session, dataset["id"])]
    held_out = split_ner(rows, TrainingConfig.model_validate(run["config"])).val_texts
    assert texts == held_out and len(texts) < len(rows)
    assert labels is None, "entity spans are compared on the tagger's answers, not as label strings"

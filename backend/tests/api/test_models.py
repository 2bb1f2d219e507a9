"""Model management under /api/models and the spec's GET /models: list, detail, rename, default, zip, delete, export."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from llm_trainer.api.app import create_app
from llm_trainer.core.jobs import ExportParams, JobKind
from llm_trainer.db.base import session_scope
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.ml.inference.loading import PYTORCH, load_predictor
from llm_trainer.ml.version_store import ValidationReference, write_reference
from tests.conftest import LOCAL_URL
from tests.helpers.runs import wait_fast_copy
from tests.helpers.versions import make_tfidf_version, make_version, review_texts


def test_list_and_detail_show_key_metrics_and_variants(client, settings):
    first = make_version(settings, "第一版")
    second = make_tfidf_version(settings)
    listed = client.get("/models").json()
    assert [m["id"] for m in listed] == [second, first]  # newest first
    assert client.get("/api/models").json() == listed
    tiny = listed[1]
    assert tiny["key_metrics"] == {"accuracy": 1.0, "macro_f1": 1.0, "baseline_accuracy": 0.9}
    assert tiny["labels"] == ["差评", "好评"] and tiny["size_bytes"] > 0
    assert tiny["serving_variant"] == "pytorch"
    assert tiny["variants"]["onnx_int8"]["status"] == "absent"
    detail = client.get(f"/api/models/{first}").json()
    assert detail["name"] == "第一版" and "lineage" in detail and "config" in detail
    assert client.get("/api/models/999").status_code == 404


def test_rename_and_set_default(client, settings):
    a, b = make_version(settings, "a"), make_version(settings, "b")
    r = client.patch(f"/api/models/{a}", json={"name": "  外卖情感 v1 "})
    assert r.status_code == 200 and r.json()["name"] == "外卖情感 v1"
    assert client.patch(f"/api/models/{a}", json={"name": " "}).json()["code"] == "empty_name"
    assert client.post(f"/api/models/{a}/default").json()["is_default"] is True
    assert client.post(f"/api/models/{b}/default").status_code == 200
    defaults = [m["id"] for m in client.get("/api/models").json() if m["is_default"]]
    assert defaults == [b]
    assert client.post("/predict", json={"text": "好吃"}).json()["model_id"] == b


def test_delete_unloads_removes_files_and_is_refused_while_a_batch_job_runs(client, settings):
    version_id = make_version(settings)
    folder = settings.models_dir / str(version_id)
    client.post("/predict", json={"text": "好吃"})
    assert client.get(f"/api/models/{version_id}").json()["loaded_variants"] == ["pytorch"]

    rows = review_texts(6000, seed=9)
    data = ("text,label\n" + "".join(f"{t},{lbl}\n" for t, lbl in rows)).encode()
    job = client.post("/api/predict/batch", files={"file": ("big.csv", data)}, data={"model_id": str(version_id)})
    assert job.status_code == 202
    refused = client.delete(f"/api/models/{version_id}")
    assert refused.status_code == 409 and refused.json()["code"] == "model_in_use"
    assert "Wait for them to finish" in refused.json()["message"]
    assert folder.is_dir()

    deadline = time.time() + 120
    job_url = f"/api/predict/batch/{job.json()['id']}"
    unfinished = ("queued", "running")  # the dispatcher may not have claimed it yet
    while client.get(job_url).json()["status"] in unfinished and time.time() < deadline:
        time.sleep(0.2)
    assert client.delete(f"/api/models/{version_id}").status_code == 204
    assert not folder.exists()
    assert client.get(f"/api/models/{version_id}").status_code == 404
    assert client.post("/predict", json={"text": "好吃", "model_id": version_id}).status_code == 404


def test_zip_download_reloads_as_a_working_model(client, settings, tmp_path):
    from llm_trainer.ml.modeling import load_classifier

    version_id = make_version(settings)
    r = client.get(f"/api/models/{version_id}/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert f"model-{version_id}.zip" in r.headers["content-disposition"]
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path / "unzipped")
    tokenizer, model = load_classifier(tmp_path / "unzipped", "cpu")
    logits = model(**tokenizer(["很好吃，推荐", "难吃，失望"], padding=True, return_tensors="pt")).logits
    assert [model.config.id2label[int(i)] for i in logits.argmax(-1)] == ["好评", "差评"]
    # A GET changes nothing: the zip is streamed, no archive is written under the data dir.
    assert not [p for p in settings.data_dir.rglob("*.zip")]


def test_export_int8_then_serve_it_by_request_and_by_default(client, settings):
    from tests.helpers.training_data import insert_dataset

    dataset_id = insert_dataset(client.app.state.session_factory, review_texts(60, seed=4))
    version_id = make_version(settings, dataset_id=dataset_id, config={"validation_ratio": 0.25, "seed": 1})
    r = client.post(f"/api/models/{version_id}/export", json={"variant": "onnx_int8"})
    assert r.status_code == 202 and r.json()["variants"]["onnx_int8"]["status"] == "building"
    assert r.json()["variants"]["onnx"]["status"] == "building", "the fp32 graph int8 starts from is built too"
    deadline = time.time() + 180
    while time.time() < deadline:
        variants = client.get(f"/api/models/{version_id}").json()["variants"]
        if variants["onnx_int8"]["status"] != "building":
            break
        time.sleep(0.5)
    assert variants["onnx_int8"]["status"] == "ready", variants
    assert variants["onnx"]["status"] == "ready"  # built on the way
    evaluation = variants["onnx_int8"]["evaluation"]
    assert evaluation["samples"] == 15  # the version's own validation split, rebuilt
    assert variants["onnx_int8"]["accuracy_delta"] == pytest.approx(
        evaluation["accuracy"] - evaluation["accuracy_reference"]
    )
    assert abs(variants["onnx_int8"]["accuracy_delta"]) <= 0.1

    answer = client.post("/predict", json={"text": "很好吃，满意", "variant": "onnx_int8"}).json()
    assert (answer["variant"], answer["label"]) == ("onnx_int8", "好评")
    assert client.patch(f"/api/models/{version_id}", json={"serving_variant": "onnx_int8"}).status_code == 200
    assert client.post("/predict", json={"text": "难吃"}).json()["variant"] == "onnx_int8"

    tfidf = make_tfidf_version(settings)
    assert client.post(f"/api/models/{tfidf}/export", json={"variant": "onnx"}).json()["code"] == "not_exportable"


def _with_reference(settings, version_id: int) -> None:
    """Save PyTorch's own validation answers in the version folder, as training does for fast serving."""
    folder = settings.models_dir / str(version_id)
    rows = review_texts(30, seed=4)
    texts = [t for t, _ in rows]
    predictor = load_predictor(folder, "transformer", PYTORCH, warm_up=False)
    probs = predictor.probabilities(texts)[0].tolist()
    labels = [lbl for _, lbl in rows]
    reference = ValidationReference(texts=texts, labels=labels, classes=list(predictor.labels), probs=probs)
    write_reference(folder, reference)


def test_a_fast_serving_version_left_without_its_export_job_gets_it_at_start_and_then_answers_with_onnx(settings):
    wanted = make_version(settings, "wanted", config={"fast_serving": True})
    switched_off = make_version(settings, "off", config={"fast_serving": False})
    no_reference = make_version(settings, "older version", config={"fast_serving": True})
    _with_reference(settings, wanted)
    _with_reference(settings, switched_off)
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        jobs = client.get("/api/jobs", params={"kind": "export"}).json()
        assert [j["params"]["version_id"] for j in jobs] == [wanted], "only the version that wants its copy"
        assert client.get(f"/api/models/{wanted}").json()["serving_variant"] == "pytorch", "until the copy is ready"
        detail = wait_fast_copy(client.get, wanted)
        onnx = detail["variants"]["onnx"]
        assert onnx["status"] == "ready" and onnx["evaluation"]["samples"] == 30
        assert onnx["evaluation"]["agreement"] == 1.0 and detail["serving_variant"] == "onnx"
        assert client.post("/predict", json={"text": "好吃", "model_id": wanted}).json()["variant"] == "onnx"
        for other in (switched_off, no_reference):
            assert client.get(f"/api/models/{other}").json()["serving_variant"] == "pytorch"
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:  # a second start queues nothing more
        assert len(client.get("/api/jobs", params={"kind": "export"}).json()) == 1


def test_delete_cancels_queued_exports_and_is_refused_while_one_is_built(client, settings):
    factory = client.app.state.session_factory
    building, queued = make_version(settings, "building"), make_version(settings, "queued")
    with session_scope(factory) as session:  # one export running (claimed by a live owner), one still queued
        running_job = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=building, variant="onnx"))
        assert jobs_repo.claim(session, running_job.id, "elsewhere:1:1")
        queued_job = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=queued, variant="onnx_int8"))
        session.commit()  # the export limit (1) keeps the second queued while the first runs
        running_id, queued_id = running_job.id, queued_job.id
    refused = client.delete(f"/api/models/{building}")
    assert refused.status_code == 409 and refused.json()["code"] == "model_in_use"
    assert "being built" in refused.json()["message"]
    assert (settings.models_dir / str(building)).is_dir()
    assert client.delete(f"/api/models/{queued}").status_code == 204
    assert client.get(f"/api/jobs/{queued_id}").json()["status"] == "cancelled"
    assert client.get(f"/api/jobs/{running_id}").json()["status"] == "running"

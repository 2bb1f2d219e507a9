"""The ensemble variant over the API: shown with its validation numbers, served by request or by default with the
blend of the transformer and its TF-IDF baseline, and refused (with the reason) where it did not beat the model."""

from __future__ import annotations

import time

import pytest

from llm_trainer.ml.baseline import load_baseline
from llm_trainer.ml.version_store import ensemble_dir
from tests.helpers.versions import make_ensemble_version, make_version

TEXTS = ["这家店，好吃，不错", "外卖，太慢，凉了", "味道一般"]


def test_an_ensemble_that_beat_the_model_answers_by_default_with_the_blended_probabilities_until_the_model_is_chosen(
    client, settings
):
    version = make_ensemble_version(settings, weight=0.4)
    detail = client.get(f"/api/models/{version}").json()
    info = detail["variants"]["ensemble"]
    assert info["status"] == "ready" and info["evaluation"]["weight"] == 0.4
    assert detail["metrics"]["ensemble"]["metrics"]["accuracy"] == 0.95 and detail["serving_variant"] == "ensemble"
    listed = next(m for m in client.get("/api/models").json() if m["id"] == version)
    assert listed["key_metrics"]["ensemble_accuracy"] == 0.95  # the lists show it once the blend answers
    assert "ensemble_macro_f1" in listed["key_metrics"]

    blended = client.post("/api/predict", json={"model_id": version, "texts": TEXTS}).json()
    assert blended["variant"] == "ensemble"
    assert blended["ensemble"] == {"model_variant": "pytorch", "baseline": "tfidf", "baseline_weight": 0.4}
    patched = client.patch(f"/api/models/{version}", json={"serving_variant": "pytorch"})
    assert patched.status_code == 200 and patched.json()["serving_variant"] == "pytorch"
    model = client.post("/api/predict", json={"model_id": version, "texts": TEXTS}).json()
    assert model["variant"] == "pytorch" and model["ensemble"] is None

    pipeline = load_baseline(ensemble_dir(settings.models_dir / str(version)))
    baseline = pipeline.predict_proba(TEXTS)
    classes = [str(c) for c in pipeline.classes_]
    for i, (alone, mixed) in enumerate(zip(model["predictions"], blended["predictions"], strict=True)):
        transformer = {p["label"]: p["probability"] for p in alone["probabilities"]}
        got = {p["label"]: p["probability"] for p in mixed["probabilities"]}
        for label, p in got.items():
            assert p == pytest.approx(0.6 * transformer[label] + 0.4 * baseline[i][classes.index(label)])
        assert mixed["label"] == max(got, key=got.get) and mixed["windows"] == 1


def test_an_ensemble_that_did_not_beat_the_model_is_shown_with_its_number_but_refused(client, settings):
    version = make_ensemble_version(settings, offered=False)
    info = client.get(f"/api/models/{version}").json()["variants"]["ensemble"]
    assert info["status"] == "absent" and info["evaluation"]["beats_model"] is False
    assert "does not beat the model alone" in info["error"] and "0.9000 vs 0.9000" in info["error"]
    listed = next(m for m in client.get("/api/models").json() if m["id"] == version)
    assert "ensemble_accuracy" not in listed["key_metrics"]
    refused = client.patch(f"/api/models/{version}", json={"serving_variant": "ensemble"})
    assert refused.status_code == 422 and refused.json()["code"] == "variant_not_offered"
    asked = client.post("/api/predict", json={"model_id": version, "text": "好吃", "variant": "ensemble"})
    assert asked.status_code == 422 and asked.json()["code"] == "variant_not_offered"


def test_a_version_trained_before_ensembles_says_how_to_get_one(client, settings):
    version = make_version(settings)
    info = client.get(f"/api/models/{version}").json()["variants"]["ensemble"]
    assert info["status"] == "absent" and "Train it again" in info["error"]


def test_the_ensemble_switches_to_the_onnx_copy_once_it_is_built(client, settings):
    version = make_ensemble_version(settings, weight=0.4)
    ask = {"model_id": version, "text": TEXTS[0], "variant": "ensemble"}
    before = client.post("/api/predict", json=ask).json()
    assert before["ensemble"]["model_variant"] == "pytorch"
    assert client.post(f"/api/models/{version}/export", json={"variant": "onnx"}).status_code == 202
    deadline = time.time() + 180
    while time.time() < deadline:
        onnx = client.get(f"/api/models/{version}").json()["variants"]["onnx"]
        if onnx["status"] != "building":
            break
        time.sleep(0.5)
    assert onnx["status"] == "ready", onnx
    after = client.post("/api/predict", json=ask).json()
    assert after["variant"] == "ensemble"
    assert after["ensemble"] == {"model_variant": "onnx", "baseline": "tfidf", "baseline_weight": 0.4}
    same = {p["label"]: p["probability"] for p in before["probabilities"]}
    assert all(p["probability"] == pytest.approx(same[p["label"]], abs=1e-4) for p in after["probabilities"])

"""Serving variants in a real browser: a freshly trained version answers with its lossless ONNX copy once the export
job queued by training has built it; build
the int8 variant from the version page, serve with it, then see on the inference page which variant answers."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import pick, shot
from tests.e2e.data import all_texts, review_rows, start_run, upload, wait_run, write_csv
from tests.helpers.runs import default_answerer, wait_fast_copy
from tests.helpers.tiny_model import build_tiny_bert

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def version_id(server: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A tiny BERT trained for a few seconds through the API (trainable embeddings: it learns these reviews)."""
    rows = review_rows(80)
    tmp = tmp_path_factory.mktemp("serving")
    base = build_tiny_bert(tmp / "base", all_texts(rows))
    dataset = upload(server, write_csv(tmp / "reviews.csv", rows), "服务版本")
    config = {"epochs": 8, "batch_size": 16, "learning_rate": 2e-3, "max_length": 32, "freeze_embeddings": False}
    run = start_run(server, dataset["id"], str(base), **config)
    version_id = wait_run(server, run["id"], {"succeeded"})["model_version_ids"][-1]
    return wait_fast_copy(lambda path: httpx.get(server + path), version_id)["id"]  # its export job runs after


def test_served_by_onnx_after_training_then_build_int8_and_predict_with_it(page, server, version_id):
    page.goto(f"/versions/{version_id}")
    pytorch, onnx, int8 = (page.locator(f"[data-test=variant-{name}]") for name in ("pytorch", "onnx", "onnx_int8"))
    # Training built the ONNX fp32 copy and answers with it because its answers match PyTorch's: alone, or inside the
    # blend with TF-IDF where that beat the model (the next test makes sure of a blend).
    blended = default_answerer(httpx.get(f"{server}/api/models/{version_id}").json(), "onnx") == "ensemble"
    expect(onnx).to_have_attribute("data-status", "ready")
    expect(onnx).to_have_attribute("data-served", "false" if blended else "true")
    expect(page.locator("[data-test=variant-ensemble]")).to_have_attribute(
        "data-served", "true" if blended else "false"
    )
    expect(pytorch).to_have_attribute("data-served", "false")
    expect(page.locator("[data-test=accuracy-onnx]")).to_contain_text("100.0% 的预测相同")
    expect(int8).to_have_attribute("data-status", "absent")

    page.locator("[data-test=build-onnx_int8]").click()
    expect(int8).to_have_attribute("data-status", "ready", timeout=180_000)  # followed by polling, no reload
    expect(page.locator("[data-test=accuracy-onnx_int8]")).to_contain_text(re.compile(r"\d+\.\d% 的预测相同"))
    page.locator("[data-test=serve-onnx_int8]").click()
    expect(int8).to_have_attribute("data-served", "true")
    expect(onnx).to_have_attribute("data-served", "false")
    assert httpx.get(f"{server}/api/models/{version_id}").json()["serving_variant"] == "onnx_int8"
    expect(page.locator(".el-message")).to_have_count(0, timeout=10_000)  # the confirmation toast has gone
    shot(page, "13-serving-variants")

    page.get_by_role("button", name="用它推理").click()
    page.wait_for_url(re.compile(rf"/inference\?model={version_id}$"))
    expect(page.locator("[data-test=variant-select]")).to_contain_text("ONNX int8")  # the served one by default
    page.locator("[data-test=predict-text]").fill("牛肉面味道很好，送餐很快")
    page.locator("[data-test=predict]").click()
    answered = page.locator("[data-test=answered-variant]")
    expect(answered).to_have_attribute("data-variant", "onnx_int8", timeout=60_000)
    expect(answered).to_contain_text("ONNX int8")
    shot(page, "13b-inference-variant")

    pick(page, "[data-test=variant-select]", "PyTorch fp32（原始）")  # a one-off test with another variant
    page.locator("[data-test=predict]").click()
    expect(answered).to_have_attribute("data-variant", "pytorch", timeout=60_000)


def test_a_version_whose_blend_with_tfidf_beat_it_answers_with_the_blend_from_training_on(page, server, tmp_path):
    # One epoch at a tiny learning rate leaves the tiny model near chance: the TF-IDF baseline and the blend win.
    rows = review_rows(80)
    base = build_tiny_bert(tmp_path / "base", all_texts(rows))
    dataset = upload(server, write_csv(tmp_path / "reviews.csv", rows), "集成版本")
    config = {"epochs": 1, "batch_size": 16, "learning_rate": 1e-5, "max_length": 32}
    run = start_run(server, dataset["id"], str(base), **config)
    version_id = wait_run(server, run["id"], {"succeeded"})["model_version_ids"][-1]
    detail = wait_fast_copy(lambda path: httpx.get(server + path), version_id)
    assert detail["metrics"]["ensemble"]["offered"] and detail["serving_variant"] == "ensemble"

    page.goto(f"/training/runs/{run['id']}")
    said = page.locator("[data-test=ensemble-answers]")
    expect(said).to_contain_text("所以此版本起初由集成回答")
    expect(said).to_contain_text(re.compile(r"在验证集上最好：准确率 \d+\.\d%（模型单独 \d+\.\d%，基线 \d+\.\d%）"))
    # The model alone lost to TF-IDF; the advice to train the baseline on its own stays only where the blend that
    # answers does not beat the baseline either (here it can at best tie a TF-IDF that gets every review right).
    progress = httpx.get(f"{server}/api/runs/{run['id']}", timeout=10).json()["progress"]
    assert progress["beats_baseline"] is False
    advice = 0 if progress["ensemble_value"] > progress["baseline"] else 1
    expect(page.locator("[data-test=below-baseline]")).to_have_count(advice)

    page.goto(f"/versions/{version_id}")
    expect(page.locator("[data-test=variant-ensemble]")).to_have_attribute("data-served", "true")
    expect(page.locator("[data-test=variant-onnx]")).to_have_attribute("data-served", "false")
    expect(page.locator("[data-test=ensemble-served]")).to_be_visible()

    page.goto(f"/inference?model={version_id}")
    page.locator("[data-test=predict-text]").fill("牛肉面味道很好，送餐很快")
    page.locator("[data-test=predict]").click()
    answered = page.locator("[data-test=answered-variant]")
    expect(answered).to_have_attribute("data-variant", "ensemble", timeout=60_000)
    expect(page.locator("[data-test=ensemble-parts]")).to_contain_text("ONNX")  # the blend reads the fast copy
    shot(page, "13c-ensemble-answers")

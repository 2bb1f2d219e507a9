"""Serving variants in a real browser: build the ONNX variant of a tiny trained version from its page, serve with it,
then see on the inference page that it is the one answering."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import pick, shot
from tests.e2e.data import all_texts, review_rows, start_run, upload, wait_run, write_csv
from tests.helpers.tiny_model import build_tiny_bert

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def version_id(server: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A tiny BERT trained for a few seconds through the API (trainable embeddings: it learns these reviews)."""
    rows = review_rows(80)
    tmp = tmp_path_factory.mktemp("serving")
    base = build_tiny_bert(tmp / "base", all_texts(rows))
    dataset = upload(server, write_csv(tmp / "reviews.csv", rows), "服务版本")
    config = {"epochs": 6, "batch_size": 16, "learning_rate": 2e-3, "max_length": 32, "freeze_embeddings": False}
    run = start_run(server, dataset["id"], str(base), **config)
    return wait_run(server, run["id"], {"succeeded"})["model_version_ids"][-1]


def test_build_onnx_serve_it_and_predict_with_it(page, server, version_id):
    page.goto(f"/versions/{version_id}")
    pytorch, onnx = page.locator("[data-test=variant-pytorch]"), page.locator("[data-test=variant-onnx]")
    expect(pytorch).to_have_attribute("data-served", "true")
    expect(onnx).to_have_attribute("data-status", "absent")
    expect(page.locator("[data-test=serving-variants]")).to_contain_text("答案与原始模型相同")

    page.locator("[data-test=build-onnx]").click()
    expect(onnx).to_have_attribute("data-status", "ready", timeout=180_000)  # followed by polling, no reload
    expect(page.locator("[data-test=accuracy-onnx]")).to_contain_text(re.compile(r"\d+\.\d% 的预测相同"))
    page.locator("[data-test=serve-onnx]").click()
    expect(onnx).to_have_attribute("data-served", "true")
    expect(pytorch).to_have_attribute("data-served", "false")
    assert httpx.get(f"{server}/api/models/{version_id}").json()["serving_variant"] == "onnx"
    expect(page.locator(".el-message")).to_have_count(0, timeout=10_000)  # the confirmation toast has gone
    shot(page, "13-serving-variants")

    page.get_by_role("button", name="用它推理").click()
    page.wait_for_url(re.compile(rf"/inference\?model={version_id}$"))
    expect(page.locator("[data-test=variant-select]")).to_contain_text("ONNX fp32")  # the served one by default
    page.locator("[data-test=predict-text]").fill("牛肉面味道很好，送餐很快")
    page.locator("[data-test=predict]").click()
    answered = page.locator("[data-test=answered-variant]")
    expect(answered).to_have_attribute("data-variant", "onnx", timeout=60_000)
    expect(answered).to_contain_text("ONNX fp32")
    shot(page, "13b-inference-variant")

    pick(page, "[data-test=variant-select]", "PyTorch fp32（原始）")  # a one-off test with another variant
    page.locator("[data-test=predict]").click()
    expect(answered).to_have_attribute("data-variant", "pytorch", timeout=60_000)

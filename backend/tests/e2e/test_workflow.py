"""The whole path in a real browser: train a tiny local model, watch it finish, inspect the version, predict, stop a
run, compare versions. One server per module; each test creates what it needs through the API if it is missing."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.data import all_texts, review_rows, start_run, upload, wait_run, write_csv
from tests.helpers.tiny_model import build_tiny_bert

pytestmark = pytest.mark.browser

ROWS = review_rows(160)
# A randomly initialised tiny BERT learns these reviews only with its embeddings trainable.
FAST = {"epochs": 8, "batch_size": 16, "learning_rate": 2e-3, "max_length": 32, "freeze_embeddings": False}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT whose vocabulary covers the review texts: trains in seconds on CPU."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-base"), all_texts(ROWS))


@pytest.fixture(scope="module")
def dataset_id(server: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    path = write_csv(tmp_path_factory.mktemp("csv") / "reviews.csv", ROWS)
    return upload(server, path, "外卖评论")["id"]


def _version(server: str, dataset_id: int, tiny_base: Path, status: str = "succeeded") -> dict:
    """A model version with this status, trained through the API when none exists yet."""
    versions = [m for m in httpx.get(f"{server}/api/models").json() if m["status"] == status]
    if versions:
        return versions[0]
    run = start_run(server, dataset_id, str(tiny_base), **FAST)
    wait_run(server, run["id"], {"succeeded"})
    return [m for m in httpx.get(f"{server}/api/models").json() if m["status"] == status][0]


def test_training_run_reaches_done(page, server, dataset_id, tiny_base):
    page.goto(f"/training?dataset={dataset_id}")
    page.locator("input[data-test=local-folder]").fill(str(tiny_base))
    page.locator("[data-test=use-folder]").click()
    expect(page.locator("[data-test=base-model-select]")).to_contain_text(tiny_base.name)
    for field in ("epochs", "batch_size", "learning_rate", "max_length"):
        box = page.locator(f"[data-field={field}] input")
        box.fill(str(FAST[field]))
        box.press("Tab")
    page.locator("[data-test=config-form] .el-collapse-item__header").click()  # advanced settings
    page.locator("[data-field=freeze_embeddings] .el-switch").click()
    page.locator("[data-test=start-run]").click()

    card = page.locator("[data-test=live-run] [data-test=run-card]")
    expect(card.locator("[data-status=running], [data-status=succeeded]")).to_be_visible(timeout=90_000)
    expect(card.locator("[data-status=succeeded]")).to_be_visible(timeout=240_000)
    expect(card.locator("[data-test=run-progress]")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("[data-test=loss-chart] canvas").first).to_be_visible()
    expect(page.locator("[data-test=eval-chart] canvas").first).to_be_visible()
    expect(page.locator("[data-test=log-tail]")).to_be_visible()
    expect(page.locator("[data-test=run-history] [data-status=succeeded]").first).to_be_visible()
    page.wait_for_timeout(500)
    shot(page, "04-training-done")


def test_version_shows_metrics_and_confusion_matrix(page, server, dataset_id, tiny_base):
    version = _version(server, dataset_id, tiny_base)
    page.goto("/versions")
    page.locator("[data-test=models-table]").get_by_text(version["name"]).first.wait_for()
    shot(page, "05-models")
    page.locator("[data-test=model-link]").filter(has_text=version["name"]).first.click()
    page.wait_for_url(re.compile(rf"/versions/{version['id']}$"))
    expect(page.locator("[data-test=accuracy]")).to_have_text(re.compile(r"\d+\.\d%"))
    expect(page.locator("[data-test=per-class]")).to_contain_text("好评")
    expect(page.locator("[data-test=per-class]")).to_contain_text("差评")
    expect(page.locator("[data-test=confusion-matrix] canvas").first).to_be_visible()
    expect(page.locator("[data-test=baseline]")).to_contain_text("%")
    page.wait_for_timeout(500)
    shot(page, "06-model-detail")


def test_predict_shows_label_and_probabilities(page, server, dataset_id, tiny_base):
    _version(server, dataset_id, tiny_base)
    page.goto("/inference")
    page.locator("[data-test=predict-text]").fill("牛肉面味道很好，送餐很快")
    page.locator("[data-test=predict]").click()
    label = page.locator("[data-test=predicted-label]")
    expect(label).to_have_text(re.compile("好评|差评"), timeout=60_000)  # the first request loads the model
    rows = page.locator("[data-test=probability-row]")
    expect(rows).to_have_count(2)
    assert rows.first.get_attribute("data-label") == label.inner_text()  # most probable first
    expect(page.locator("[data-test=prediction]")).to_contain_text("毫秒")
    shot(page, "07-inference")


def test_batch_file_prediction_with_progress_and_download(page, server, dataset_id, tiny_base, tmp_path):
    _version(server, dataset_id, tiny_base)
    path = write_csv(tmp_path / "batch.csv", review_rows(40, seed=11))
    page.goto("/inference")
    page.locator("[data-test=batch] input[type=file]").set_input_files(str(path))
    page.locator("[data-test=batch-start]").click()
    job = page.locator("[data-test=batch-job]")
    expect(job).to_contain_text("已处理 40 / 40", timeout=60_000)
    expect(page.locator("[data-test=batch-metrics]")).to_contain_text("准确率")  # the file has a label column
    href = page.locator("[data-test=batch] a[download]").get_attribute("href")
    body = httpx.get(server + href).content
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM so that Excel shows Chinese
    assert body.decode("utf-8-sig").count("\n") >= 41
    shot(page, "07b-inference-batch")


def test_stop_run_yields_stopped_version(page, server, dataset_id, tiny_base):
    # Long enough to be stopped mid-way: many epochs at batch 4.
    run = start_run(server, dataset_id, str(tiny_base), epochs=40, batch_size=4, max_length=32, run_name="要停止的任务")
    wait_run(server, run["id"], {"running"}, timeout=120)
    page.goto("/")  # the home page shows the run training now, with its progress and a stop button
    home_card = page.locator("[data-test=current-run] [data-test=run-card]")
    expect(home_card).to_contain_text(re.compile(r"第 [1-9]\d* / \d+ 步"), timeout=120_000)
    expect(home_card.locator("[data-test=stop-run]")).to_be_visible()
    shot(page, "00-home-running")

    page.goto(f"/training/runs/{run['id']}")
    card = page.locator("[data-test=run-card]")
    expect(card).to_contain_text(re.compile(r"第 [1-9]\d* / \d+ 步"), timeout=120_000)
    card.locator("[data-test=stop-run]").click()
    page.locator(".el-message-box__btns .el-button--primary").click()
    expect(card.locator("[data-status=stopped]")).to_be_visible(timeout=180_000)
    expect(page.locator("[data-test=open-version]")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-test=tensorboard-hint]")).to_contain_text(f"data/runs/{run['id']}/tensorboard")
    shot(page, "08-run-stopped")
    page.locator("[data-test=open-version]").click()
    expect(page.locator("[data-test=model-overview] [data-status=stopped]")).to_be_visible()
    expect(page.locator("[data-test=confusion-matrix] canvas").first).to_be_visible()


def test_compare_two_versions(page, server, dataset_id, tiny_base):
    _version(server, dataset_id, tiny_base)
    if len(httpx.get(f"{server}/api/models").json()) < 2:
        run = start_run(server, dataset_id, str(tiny_base), **FAST)
        wait_run(server, run["id"], {"succeeded"})
    page.goto("/versions")
    boxes = page.locator("[data-test=models-table] tbody .el-checkbox")
    boxes.nth(0).click()
    boxes.nth(1).click()
    page.locator("[data-test=compare]").click()
    page.wait_for_url(re.compile(r"/versions/compare\?ids="))
    table = page.locator("[data-test=compare-table]")
    expect(table.locator("thead th")).to_have_count(3)
    expect(table).to_contain_text("%")
    page.wait_for_timeout(500)
    shot(page, "09-compare")


def test_home_shows_hardware_and_latest_versions(page, server, dataset_id, tiny_base):
    _version(server, dataset_id, tiny_base)
    page.goto("/")
    expect(page.locator("[data-test=hardware]")).to_contain_text("核")
    expect(page.locator("[data-test=latest-models]")).to_be_visible()
    # The latest versions show their key metric (classification: accuracy) as a percentage, named.
    key_metric = page.locator("[data-test=latest-models] [data-test=key-metric]").first
    expect(key_metric).to_contain_text(re.compile(r"\d+\.\d%"))
    expect(key_metric).to_contain_text("准确率")
    shot(page, "00-home-idle")
    page.locator("[data-test=start-training]").click()
    page.wait_for_url(re.compile(r"/data$"))


def test_resume_stopped_run_continues(page, server, dataset_id, tiny_base):
    stopped = [r for r in httpx.get(f"{server}/api/runs").json()["items"] if r["status"] == "stopped"]
    if not stopped:
        run = start_run(server, dataset_id, str(tiny_base), epochs=40, batch_size=4, max_length=32)
        wait_run(server, run["id"], {"running"}, timeout=120)
        httpx.post(f"{server}/api/runs/{run['id']}/stop").raise_for_status()
        stopped = [wait_run(server, run["id"], {"stopped"}, timeout=180)]
    run = stopped[0]
    page.goto(f"/training/runs/{run['id']}")
    card = page.locator("[data-test=run-card]")
    expect(card.locator("[data-status=stopped]")).to_be_visible()
    page.locator("[data-test=resume-run]").click()
    # Back in the queue, then training again from its checkpoint: the live view follows without a reload.
    expect(card.locator("[data-status=running]")).to_be_visible(timeout=120_000)
    expect(card).to_contain_text(re.compile(r"第 \d+ / 1280 步"), timeout=60_000)
    card.locator("[data-test=stop-run]").click()
    page.locator(".el-message-box__btns .el-button--primary").click()
    expect(card.locator("[data-status=stopped]")).to_be_visible(timeout=180_000)
    assert httpx.get(f"{server}/api/runs/{run['id']}").json()["resume_count"] == 1

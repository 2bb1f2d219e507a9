"""The jobs page in a real browser: a batch prediction and a training run of a tiny local model appear with their
kind and status, the training job's status changes to succeeded live (no reload), and its log opens in a drawer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from llm_trainer.core.config import Settings
from tests.conftest import run_server
from tests.e2e.conftest import SCREENSHOTS, shot
from tests.e2e.data import all_texts, review_rows, start_run, upload, write_csv
from tests.helpers.tiny_model import build_tiny_bert
from tests.helpers.versions import make_version

pytestmark = pytest.mark.browser

ROWS = review_rows(160)
# ~1,000 steps of one row: seconds of training even on a fast machine, so the page sees it running with an ETA
# between the stream's one-second ticks (32 larger steps once ended within one tick in CI).
TRAIN = {"epochs": 8, "batch_size": 1, "learning_rate": 2e-3, "max_length": 32, "freeze_embeddings": False}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs-e2e-data")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """This module's own server: the test also writes a ready version into its data dir."""
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    with run_server(data_dir, log_path=SCREENSHOTS.parent / "e2e-jobs-server.log") as url:
        yield url


def _job_row(page, kind: str):
    """The table row of the newest job of this kind."""
    return page.locator("[data-test=jobs-table] .el-table__row").filter(has=page.locator(f"[data-kind={kind}]")).first


def _status(row):
    return row.locator("[data-kind]")


def test_jobs_page_lists_every_kind_and_follows_a_training_job_live_to_succeeded(page, server, data_dir, tmp_path):
    version_id = make_version(Settings(data_dir=data_dir))  # a ready version for the batch prediction
    csv_path = write_csv(tmp_path / "批量评论.csv", review_rows(40, seed=5))
    with csv_path.open("rb") as f:
        files = {"file": (csv_path.name, f, "text/csv")}
        batch = httpx.post(f"{server}/api/predict/batch", files=files, data={"model_id": str(version_id)}, timeout=60)
    assert batch.status_code == 202, batch.text

    page.goto("/jobs")
    expect(page.locator("[data-test=jobs-live]")).to_have_attribute("data-mode", "sse")
    batch_row = _job_row(page, "batch_predict")
    expect(batch_row.locator("[data-test=job-kind]")).to_have_text("批量预测")
    expect(_status(batch_row)).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(batch_row.locator("[data-test=job-link]")).to_have_text(csv_path.name)
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    # Started after the page opened: the new job appears, runs and ends on the page without a reload.
    tiny_base = build_tiny_bert(tmp_path / "tiny-base", all_texts(ROWS))
    dataset = upload(server, write_csv(tmp_path / "reviews.csv", ROWS), "任务页评论")
    run = start_run(server, dataset["id"], str(tiny_base), **TRAIN)
    train_row = _job_row(page, "train")
    expect(train_row.locator("[data-test=job-kind]")).to_have_text("训练", timeout=30_000)
    expect(train_row.locator("[data-test=job-link]")).to_have_attribute("href", f"/training/runs/{run['id']}")
    expect(_status(train_row)).to_have_attribute("data-status", "running", timeout=90_000)
    expect(train_row.locator("[data-test=job-detail]")).to_contain_text("步", timeout=90_000)  # 第 n / N 步
    expect(train_row.locator("[data-test=job-detail]")).to_contain_text("剩余约", timeout=90_000)  # the run's ETA
    shot(page, "20-jobs-running")
    expect(_status(train_row)).to_have_attribute("data-status", "succeeded", timeout=240_000)
    expect(train_row.locator(".el-tag")).to_have_text("已完成")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # Filters: by kind, then by status.
    page.locator("[data-test=filter-kind]").click()
    page.locator(".el-select-dropdown:visible").get_by_role("option", name="批量预测", exact=True).click()
    expect(page.locator("[data-test=jobs-table] [data-kind]")).to_have_count(1)
    expect(_job_row(page, "batch_predict")).to_be_visible()
    page.locator("[data-test=filter-kind] .el-select__suffix").hover()
    page.locator("[data-test=filter-kind] .el-select__clear").click()
    expect(_job_row(page, "train")).to_be_visible()

    # The training job's log in a drawer.
    _job_row(page, "train").locator("[data-test=job-log]").click()
    drawer = page.locator("[data-test=job-log-drawer]")
    expect(drawer.locator("[data-test=log-tail]")).to_be_visible()
    expect(drawer.locator("[data-test=log-tail]")).not_to_be_empty()
    expect(drawer.locator("[data-test=job-progress]")).to_have_attribute("data-status", "succeeded")
    page.wait_for_timeout(400)  # the drawer's slide-in
    shot(page, "21-jobs-log", full_page=False)

"""Upload a CSV through the browser: progress, validation report, preview table and charts; missing columns."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import pick, shot
from tests.e2e.data import review_rows, upload, write_csv

pytestmark = pytest.mark.browser


def test_upload_csv_shows_report_preview_and_charts(page, tmp_path):
    csv_path = write_csv(tmp_path / "reviews.csv", review_rows(120))
    page.goto("/data")
    page.get_by_text("还没有数据集").wait_for()
    page.locator("[data-test=upload-drop] input[type=file]").set_input_files(str(csv_path))
    page.locator("input[data-test=dataset-name]").fill("外卖评论")
    page.locator("[data-test=upload-submit]").click()

    page.wait_for_url(re.compile(r"/data/\d+$"))
    report = page.locator("[data-test=validation-report]")
    report.get_by_text("120", exact=True).first.wait_for()
    # Preview: the first page of rows, then the label filter narrows it to one class.
    table = page.locator("[data-test=preview-table]")
    table.get_by_text("第0单").wait_for()
    pick(page, "[data-test=label-filter]", "差评")
    table.get_by_text("第1单").wait_for()
    assert table.get_by_text("好评").count() == 0
    # Charts render onto canvases.
    assert page.locator("[data-test=label-chart] canvas").count() >= 1
    assert page.locator("[data-test=length-chart] canvas").count() >= 1
    page.wait_for_timeout(600)  # chart entrance animation
    shot(page, "02-dataset-detail")

    page.goto("/data")
    page.locator("[data-test=dataset-table]").get_by_text("外卖评论").wait_for()
    shot(page, "01-datasets")


def test_file_without_text_label_columns_asks_for_columns(page, tmp_path):
    csv_path = write_csv(tmp_path / "odd.csv", review_rows(40, seed=3), header=("正文内容X", "打分Y"))
    page.goto("/data")
    page.locator("[data-test=upload-drop] input[type=file]").set_input_files(str(csv_path))
    page.locator("[data-test=upload-submit]").click()
    chooser = page.locator("[data-test=column-chooser]")
    chooser.wait_for()
    pick(page, "[data-test=text-column]", "正文内容X")
    pick(page, "[data-test=label-column]", "打分Y")
    shot(page, "03-dataset-choose-columns")
    page.locator("[data-test=upload-submit]").click()
    page.wait_for_url(re.compile(r"/data/\d+$"))
    page.locator("[data-test=validation-report]").get_by_text("正文内容X / 打分Y").wait_for()


def test_rename_and_delete_dataset(page, server, tmp_path):
    upload(server, write_csv(tmp_path / "old.csv", review_rows(30, seed=5)), "旧名字")
    page.goto("/data")
    row = page.locator("[data-test=dataset-table] .el-table__row").filter(has_text="旧名字")
    row.locator("[data-test=rename]").click()
    box = page.locator(".el-message-box input")
    box.fill("新名字")
    page.locator(".el-message-box__btns .el-button--primary").click()
    row = page.locator("[data-test=dataset-table] .el-table__row").filter(has_text="新名字")
    expect(row).to_be_visible()

    row.locator("[data-test=delete-dataset]").click()
    expect(page.locator(".el-message-box")).to_contain_text("新名字")  # the confirmation names what goes
    page.locator(".el-message-box__btns .el-button--primary").click()
    expect(page.locator("[data-test=dataset-table]").get_by_text("新名字")).to_have_count(0)
    assert all(d["name"] != "新名字" for d in httpx.get(f"{server}/api/datasets").json())

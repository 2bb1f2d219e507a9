"""Switch the UI to English (kept after a reload, Element Plus included) and use it in a narrow window."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.data import review_rows, upload, write_csv

pytestmark = pytest.mark.browser


def test_switch_to_english_and_back(page, server, tmp_path):
    dataset = upload(server, write_csv(tmp_path / "r.csv", review_rows(60)), "评论")
    page.goto("/")
    expect(page.locator("[data-nav='/training']")).to_have_text("训练")
    page.locator("[data-test=lang-switch]").get_by_text("English").click()
    expect(page.locator("[data-nav='/training']")).to_have_text("Training")
    expect(page.locator("h1")).to_contain_text("Train your own model on your own Chinese data")
    assert page.evaluate("document.documentElement.lang") == "en"

    page.reload()  # the choice persists
    expect(page.locator("[data-nav='/training']")).to_have_text("Training")
    page.goto(f"/data/{dataset['id']}")
    expect(page.locator("[data-test=validation-report]")).to_contain_text("Rows read")
    expect(page.locator(".el-pagination")).to_contain_text("Total 60")  # Element Plus' own texts follow
    page.wait_for_timeout(500)
    shot(page, "10-english-dataset")

    page.locator("[data-test=lang-switch]").get_by_text("中文").click()
    expect(page.locator(".el-pagination")).to_contain_text("共 60 条")


def test_pages_fit_a_narrow_window(page, server):
    page.set_viewport_size({"width": 400, "height": 860})
    for path in ("/", "/data", "/training", "/versions", "/inference"):
        page.goto(path)
        page.locator("main h1").first.wait_for()
        page.wait_for_timeout(300)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 400px"
    shot(page, "11-narrow-inference")
    page.goto("/training")
    page.locator("main h1").first.wait_for()
    shot(page, "12-narrow-training")

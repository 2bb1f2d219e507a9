"""Token mode in a real browser: a visitor without the token lands on the login page, logs in, and uses the UI."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import run_server
from tests.e2e.conftest import DESKTOP, shot

pytestmark = pytest.mark.browser
TOKEN = "e2e-login-token-0123456789"


def test_login_page_opens_the_ui_only_with_the_right_token(chromium, tmp_path):
    with run_server(tmp_path / "data", env={"LLM_TRAINER_TOKEN": TOKEN}) as url:
        context = chromium.new_context(viewport=DESKTOP, base_url=url, locale="zh-CN")
        page = context.new_page()
        page.goto("/data")
        page.wait_for_url("**/login")  # the UI's first API call answered 401
        expect(page.locator("h1")).to_contain_text("LLM Trainer")
        page.fill("#token", "wrong-token")
        page.click("button[type=submit]")
        expect(page.locator("#error")).to_contain_text("令牌错误")
        shot(page, "15-login-wrong-token")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        page.goto("/data")
        page.locator("main h1").first.wait_for()
        expect(page).to_have_url(url + "/data")  # stays: the session cookie opens the API
        cookie = next(c for c in context.cookies() if c["name"] == "llm_trainer_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        shot(page, "15b-logged-in")
        context.close()

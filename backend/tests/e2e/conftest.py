"""Browser end-to-end fixtures: Debian Chromium via Playwright against a real server that serves the built UI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_server

CHROMIUM = Path(os.environ.get("LLM_TRAINER_CHROMIUM", "/usr/bin/chromium"))
DIST_INDEX = REPO_ROOT / "frontend" / "dist" / "index.html"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DESKTOP = {"width": 1280, "height": 860}


def _unavailable(reason: str) -> None:
    """Missing browser or UI: a skip on a developer machine, a failure in CI (where both must exist)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    if not DIST_INDEX.is_file():
        _unavailable(f"The web UI is not built ({DIST_INDEX} missing): run `cd frontend && npm run build`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server per test module (runs and versions carry over between its tests); log kept for debugging."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    with run_server(data_dir, log_path=SCREENSHOTS.parent / "e2e-server.log") as url:
        yield url


@pytest.fixture
def page(chromium, server: str) -> Iterator[object]:
    """A fresh browser context (own localStorage) per test, Chinese UI by default, base URL set."""
    context = chromium.new_context(viewport=DESKTOP, base_url=server, locale="zh-CN")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot as a test artefact under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.mouse.move(0, 0)  # no hover highlight on the last clicked button
    page.screenshot(path=str(path), full_page=full_page)
    return path


def pick(page, select_selector: str, option: str) -> None:
    """Choose `option` in an Element Plus select (its dropdown is teleported to <body>; only the open one counts)."""
    from playwright.sync_api import expect

    page.locator(select_selector).click()
    page.locator(".el-select-dropdown:visible").get_by_role("option", name=option, exact=True).click()
    expect(page.locator(".el-select-dropdown:visible")).to_have_count(0)

"""With the web UI built, the OpenAI-compatible API keeps API answers: an unknown /v1 address opened in a browser is a
JSON 404 (not the UI's page), while client-side routes that merely start with "v" still get the UI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from llm_trainer.api.app import create_app
from tests.conftest import LOCAL_URL

BROWSER = {"accept": "text/html,application/xhtml+xml"}


def test_unknown_v1_path_in_a_browser_is_a_json_404(settings, tmp_path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<html><body>LLM Trainer UI</body></html>", encoding="utf-8")
    settings.frontend_dist = dist
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        r = c.get("/v1/chat/nope", headers=BROWSER)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert c.get("/v1/models", headers=BROWSER).json()["object"] == "list"
        assert "LLM Trainer UI" in c.get("/versions/3", headers=BROWSER).text

"""GET / answers the spec's health JSON to API clients; /docs is Swagger; unknown API paths are JSON 404s."""

from tests.conftest import LOCAL_URL


def test_root_returns_health_json(client):
    r = client.get("/", headers={"accept": "application/json"})
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_curl_style_request_gets_json(client):
    r = client.get("/", headers={"accept": "*/*"})
    assert r.headers["content-type"].startswith("application/json")


def test_swagger_docs_served(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()


def test_unknown_api_path_is_json_404(client):
    r = client.get("/api/nope", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_browser_gets_ui_when_built(settings, tmp_path):
    from fastapi.testclient import TestClient

    from llm_trainer.api.app import create_app

    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<html><body>LLM Trainer UI</body></html>", encoding="utf-8")
    settings.frontend_dist = dist
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        assert "LLM Trainer UI" in c.get("/", headers={"accept": "text/html"}).text
        # Client-side routes fall back to index.html...
        assert "LLM Trainer UI" in c.get("/training", headers={"accept": "text/html"}).text
        # ...but API clients still get JSON at /.
        assert c.get("/", headers={"accept": "application/json"}).json()["status"] == "ok"


def test_live_server_restart_keeps_schema(live_server):
    import httpx

    assert httpx.get(live_server + "/").json()["status"] == "ok"

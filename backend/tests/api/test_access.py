"""Access rules walked over the app's own route table, so a new route cannot be forgotten."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from llm_trainer.api.access import PUBLIC_PATHS, AccessGuard, LoginThrottle
from llm_trainer.api.app import create_app
from llm_trainer.core.config import Settings
from tests.conftest import LOCAL_URL, _free_port

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
TOKEN = "s3cret-token-for-tests"


def routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) for every API route; path parameters become 1."""
    found = []
    for route in app.routes:
        # FastAPI wraps each included router; its contexts are the routes with their final paths.
        entries = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for entry in entries:
            if isinstance(entry, APIRoute) or hasattr(entry, "original_route"):
                path = re.sub(r"\{[^}]+\}", "1", entry.path)
                found.extend((method, path) for method in sorted(entry.methods))
    return found


def state_changing(app) -> list[tuple[str, str]]:
    return [(m, p) for m, p in routes(app) if m in STATE_CHANGING]


@pytest.fixture
def token_client(settings: Settings):
    settings.token = TOKEN
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        yield c


def test_route_table_has_state_changing_routes(client):
    # Guards the walks below: an empty table would make them pass without checking anything.
    assert len(state_changing(client.app)) >= 10


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1.evil.example:8000"},
    ],
    ids=["foreign-origin", "null-origin", "sec-fetch-site", "lookalike-origin"],
)
def test_every_state_changing_route_refuses_cross_site_requests(client, headers):
    for method, path in state_changing(client.app):
        r = client.request(method, path, headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "cross_site_request"), (method, path)
    assert client.get("/api/datasets").json() == []  # nothing was created on the way


def test_every_route_refuses_a_foreign_host_header(client):
    # DNS rebinding: the attacker's name resolves to 127.0.0.1, so only the Host header tells.
    for method, path in routes(client.app):
        r = client.request(method, path, headers={"host": "attacker.example:8000"})
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_host"), (method, path)


def test_same_origin_requests_and_allowed_hosts_work(settings, tmp_path):
    settings.allowed_hosts = "trainer.lan"
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        same = c.post("/api/auth/logout", headers={"origin": "http://127.0.0.1:8000", "sec-fetch-site": "same-origin"})
        assert same.status_code == 204
        assert c.get("/api/datasets", headers={"host": "trainer.lan:8000"}).status_code == 200
        assert c.get("/api/datasets", headers={"host": "localhost:8000"}).status_code == 200


def test_no_cors_headers_unless_origins_are_configured(client, settings):
    preflight = {"origin": "https://tool.example", "access-control-request-method": "POST"}
    assert "access-control-allow-origin" not in client.options("/predict", headers=preflight).headers
    settings.cors_origins = "https://tool.example"
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        r = c.options("/predict", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://tool.example"
        assert c.post("/predict", json={"text": "好"}, headers={"origin": "https://tool.example"}).status_code != 403


def test_token_mode_refuses_every_route_without_the_token_and_lets_it_through_with(token_client, settings):
    walked = [(m, p) for m, p in routes(token_client.app) if p not in PUBLIC_PATHS]
    assert len(walked) >= 20
    for method, path in walked:
        r = token_client.request(method, path)
        assert (r.status_code, r.json()["code"]) == (401, "auth_required"), (method, path)

    # With the token, the guard hands every route to the app (an echo app here: the real routes would start
    # downloads and training); the real app answering with the token is checked below and in the login tests.
    async def echo(scope, receive, send):
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = TestClient(AccessGuard(echo, settings, LoginThrottle(10)), base_url=LOCAL_URL)
    bearer = {"authorization": f"Bearer {TOKEN}"}
    for method, path in walked:
        assert guarded.request(method, path, headers=bearer).status_code == 299, (method, path)
        assert guarded.request(method, path, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert token_client.get("/api/datasets", headers=bearer).status_code == 200
    assert token_client.get("/docs").status_code == 401  # the API description is private too


def test_token_mode_health_is_public_and_says_nothing_private(token_client):
    for path in ("/", "/api/health"):
        body = token_client.get(path).json()
        assert body["status"] == "ok"
        assert not any(key in body for key in ("data_dir", "pid", "path", "token"))


def test_login_sets_a_strict_httponly_cookie_that_opens_the_api(token_client):
    assert token_client.post("/api/auth/login", json={"token": "nope"}).json()["code"] == "invalid_token"
    r = token_client.post("/api/auth/login", json={"token": TOKEN})
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert token_client.get("/api/datasets").status_code == 200  # the client keeps the cookie
    assert "访问令牌" in token_client.get("/login").text


def test_link_with_token_logs_in_and_drops_the_token_from_the_address(token_client):
    r = token_client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert token_client.get("/api/datasets").status_code == 200


def test_wrong_tokens_are_rate_limited(settings):
    settings.token, settings.login_attempts_per_minute = TOKEN, 3
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        codes = [c.post("/api/auth/login", json={"token": f"guess{i}"}).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        assert c.post("/api/auth/login", json={"token": TOKEN}).status_code == 429  # even the right one, for now


def test_serving_on_all_interfaces_without_a_token_generates_one_and_prints_its_url(data_dir):
    port = _free_port()
    env = {"LLM_TRAINER_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_trainer.cli", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = ""
        while "?token=" not in printed and proc.poll() is None:
            printed += proc.stdout.readline()
        match = re.search(r"\?token=([\w-]+)", printed)
        assert match and "generated an access token" in printed
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(base + "/api/datasets").status_code == 401
        ok = httpx.get(base + "/api/datasets", headers={"authorization": f"Bearer {match.group(1)}"})
        assert ok.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)

"""Who may talk to the server: Host allow-list (DNS rebinding), cross-site refusal (CSRF), and the access token.

A pure ASGI middleware, so SSE streams and file responses pass through untouched. Rules (README "Security"):
- without a token (loopback): the Host header must be a loopback name or an allowed host; state-changing requests
  whose Origin or Sec-Fetch-Site say another site are refused;
- with a token: every route but health and the login page needs `Authorization: Bearer <token>` or the session
  cookie the login page sets; the cross-site rule still applies (the cookie is SameSite=Strict anyway).
"""

from __future__ import annotations

import hmac
import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from llm_trainer.core.config import Settings

SESSION_COOKIE = "llm_trainer_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
# Reachable without the token: the health check (it says nothing private), the login page and its assets.
PUBLIC_PATHS = frozenset({"/", "/api/health", "/login", "/api/auth/login", "/favicon.svg"})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def host_name(host_header: str) -> str:
    """`Host` without its port, lower-cased: '127.0.0.1:8000' -> '127.0.0.1', '[::1]:80' -> '[::1]'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_name(name: str) -> bool:
    return name in LOOPBACK_NAMES or name.endswith(".localhost") or name.startswith("127.")


def is_loopback_bind(host: str) -> bool:
    return is_loopback_name(host_name(host) if host.startswith("[") else host.lower())


class LoginThrottle:
    """At most `per_minute` wrong tokens per client address in any 60 s window."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, client: str) -> bool:
        window = self.failures[client]
        while window and window[0] < time.monotonic() - 60:
            window.popleft()
        return len(window) >= self.per_minute

    def failed(self, client: str) -> None:
        self.failures[client].append(time.monotonic())


class AccessGuard:
    def __init__(
        self, app: Callable[[Scope, Receive, Send], Awaitable[None]], settings: Settings, throttle: LoginThrottle
    ):
        self.app = app
        self.settings = settings
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self.refusal(scope, headers)
        if refusal is not None and refusal[1] == "auth_required" and _browser_navigation(scope, headers):
            return await _redirect(send, "/login")  # a person opening a page, not a script: show the login form
        if refusal is not None:
            return await _send_json(send, *refusal)
        token = self.settings.token
        query_token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        if token and query_token and scope.get("method") == "GET":
            return await self._login_by_link(scope, send, query_token)
        return await self.app(scope, receive, send)

    def refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        """(status, code, message) when the request must not reach the app; None when it may."""
        settings = self.settings
        name = host_name(headers.get("host", ""))
        if not settings.token and not (is_loopback_name(name) or name in settings.allowed_host_names):
            return (
                403,
                "forbidden_host",
                f"Host '{name}' is not allowed. Open the app at http://127.0.0.1:{settings.port}, or add the name to "
                "LLM_TRAINER_ALLOWED_HOSTS.",
            )
        method = scope.get("method", "GET")
        if method not in SAFE_METHODS and self.cross_site(headers, name):
            return (
                403,
                "cross_site_request",
                "Requests from another web site are refused. Use the app's own page, or list that site's origin in "
                "LLM_TRAINER_CORS_ORIGINS.",
            )
        if settings.token and scope["path"] not in PUBLIC_PATHS and not self.authorized(headers):
            return 401, "auth_required", "This server needs its access token: log in at /login or send a Bearer token."
        return None

    def cross_site(self, headers: dict[str, str], own_host: str) -> bool:
        origin = headers.get("origin", "").rstrip("/")
        if origin and origin in self.settings.cors_origin_list:
            return False
        if headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
            return True
        if not origin:
            return False
        if origin == "null":
            return True
        return host_name(urlsplit(origin).netloc) != own_host

    def authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self.token_matches(auth[7:].strip()):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a garbled cookie header is simply no session
            return False
        morsel = cookie.get(SESSION_COOKIE)
        return morsel is not None and self.token_matches(morsel.value)

    def token_matches(self, candidate: str) -> bool:
        return token_matches(self.settings, candidate)

    async def _login_by_link(self, scope: Scope, send: Send, candidate: str) -> None:
        """The URL printed at start (…/?token=…) sets the session cookie and drops the token from the address bar."""
        client = (scope.get("client") or ("?", 0))[0]
        if self.throttle.blocked(client):
            return await _send_json(send, 429, "too_many_attempts", "Too many wrong tokens; wait a minute.")
        if not self.token_matches(candidate):
            self.throttle.failed(client)
            return await _send_json(send, 401, "invalid_token", "The token in the link is wrong.")
        await _redirect(send, scope["path"], session_cookie(candidate))


def token_matches(settings: Settings, candidate: str) -> bool:
    """Constant-time comparison, so the token cannot be guessed byte by byte from response times."""
    return bool(settings.token) and hmac.compare_digest(candidate.encode(), settings.token.encode())


def session_cookie(token: str, max_age: int = 30 * 24 * 3600) -> bytes:
    return f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}".encode()


def _browser_navigation(scope: Scope, headers: dict[str, str]) -> bool:
    return scope.get("method") == "GET" and "text/html" in headers.get("accept", "")


async def _redirect(send: Send, location: str, cookie: bytes | None = None) -> None:
    extra = [(b"set-cookie", cookie)] if cookie else []
    await send({"type": "http.response.start", "status": 303, "headers": [(b"location", location.encode()), *extra]})
    await send({"type": "http.response.body", "body": b""})


async def _send_json(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message, "details": {}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

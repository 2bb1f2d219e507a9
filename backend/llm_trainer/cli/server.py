"""A server running on the same data dir, seen from the CLI: `train` and `predict --file` submit their work to it over
HTTP (with LLM_TRAINER_TOKEN when set) so its dispatcher alone claims jobs and keeps the limits, instead of
queueing behind its back or claiming jobs themselves."""

from __future__ import annotations

from typing import Any

import httpx

from llm_trainer.core.config import Settings
from llm_trainer.services.jobs import announced_server

TERMINAL = {"succeeded", "stopped", "failed", "cancelled", "interrupted"}


class ServerError(Exception):
    """The server refused a request (its own message) or stopped answering."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ServerClient:
    def __init__(self, url: str, token: str):
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=120)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer; ServerError with the server's message on a refusal or a lost connection."""
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"the server at {self.url} stopped answering ({exc.__class__.__name__}: {exc})") from exc
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message") or resp.text
            except ValueError:
                message = resp.text
            raise ServerError(f"{message} (HTTP {resp.status_code} from {self.url})")
        return resp.json()

    def download(self, path: str, target: Any) -> None:
        with self.http.stream("GET", path) as resp:
            resp.raise_for_status()
            with open(target, "wb") as out:
                for chunk in resp.iter_bytes():
                    out.write(chunk)

    def close(self) -> None:
        self.http.close()


def open_server(settings: Settings) -> ServerClient | None:
    """A client of the server announced on this data dir when it is alive and answers; None otherwise."""
    url = announced_server(settings)
    if not url:
        return None
    client = ServerClient(url, settings.token)
    try:
        client.http.get("/api/health", timeout=3).raise_for_status()
    except httpx.HTTPError:
        client.close()
        return None
    return client

"""A loopback stand-in for the Hugging Face hub's model API (the hub cannot be reached here): it lists files with
sizes and records every request, so a test can prove what was (not) downloaded."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers.loopback import QuietHandler, serve_loopback


@contextmanager
def fake_hub(files: dict[str, int], models: set[str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """(endpoint URL, list of request paths) of a hub whose models (all, or those in `models`) list `files`
    (name -> size in bytes); other ids answer 404 as the hub does."""
    requests: list[str] = []

    class Handler(QuietHandler):
        def _answer(self, repo: str, body: bytes) -> None:
            requests.append(self.path)
            if not self.path.startswith("/api/models/") or (models is not None and repo not in models):
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            repo = self.path.split("?")[0].removeprefix("/api/models/").split("/revision/")[0]
            siblings = [{"rfilename": name, "size": size} for name, size in files.items()]
            self._answer(repo, json.dumps({"id": repo, "modelId": repo, "siblings": siblings}).encode())

        do_HEAD = do_GET

    with serve_loopback(Handler) as url:
        yield url, requests


def closed_port_endpoint() -> str:
    """An endpoint where nothing listens: connections are refused at once, as with no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"

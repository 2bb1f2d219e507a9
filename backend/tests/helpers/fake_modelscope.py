"""A loopback stand-in for ModelScope's model file API (ModelScope cannot be reached here), serving a real model
folder under one id: the real `modelscope` client lists and downloads from it; every request path is recorded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.helpers.loopback import QuietHandler, serve_loopback


@contextmanager
def fake_modelscope(repo_id: str, folder: Path) -> Iterator[tuple[str, list[str]]]:
    """(endpoint URL for MODELSCOPE_ENDPOINT, request paths) of a ModelScope that holds `folder` as `repo_id`."""
    requests: list[str] = []
    files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}
    listing = [
        {"Name": name, "Path": name, "Type": "blob", "Size": p.stat().st_size,
         "Sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "Revision": "master"}
        for name, p in files.items()
    ]  # fmt: skip
    prefix = f"/api/v1/models/{repo_id}/"

    class Handler(QuietHandler):
        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            requests.append(self.path)
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == prefix + "repo/files":
                return self._send(200, json.dumps({"Code": 200, "Success": True, "Data": {"Files": listing}}).encode())
            if url.path == prefix + "repo" and query.get("FilePath") in files:
                return self._send(200, files[query["FilePath"]].read_bytes(), "application/octet-stream")
            if url.path.rstrip("/") == prefix.rstrip("/"):
                return self._send(200, json.dumps({"Code": 200, "Success": True, "Data": {"Id": repo_id}}).encode())
            message = {"Code": 10010205001, "Success": False, "Message": f"model {url.path} not found"}
            return self._send(404, json.dumps(message).encode())

        do_HEAD = do_GET

    with serve_loopback(Handler) as url:
        yield url, requests

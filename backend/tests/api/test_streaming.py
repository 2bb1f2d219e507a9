"""Streamed answers on a real uvicorn server: a client that leaves midway closes the stream's source, so its work
(a chat answer's generation, a merged download's scratch folder) ends instead of running on for nobody."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from fastapi import FastAPI

from llm_trainer.api.streaming import sse_response


def test_a_client_leaving_midway_closes_the_streams_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[str]:
        try:
            while True:
                yield "data: piece\n\n"
                time.sleep(0.01)
        finally:
            closed.set()

    app = FastAPI()
    app.get("/stream")(lambda: sse_response(endless()))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with httpx.stream("GET", f"http://127.0.0.1:{port}/stream", timeout=10) as resp:
            assert next(resp.iter_lines()) == "data: piece"
        assert closed.wait(10), "the generator kept running after its client left"
    finally:
        server.should_exit = True
        thread.join(10)

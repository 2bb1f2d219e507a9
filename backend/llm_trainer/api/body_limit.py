"""Cap the size of non-file request bodies (JSON such as /predict): a huge body is refused before it is parsed."""

from __future__ import annotations

import json
from typing import Any

from llm_trainer.api.access import Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Multipart uploads stream to disk under their own limit (max_upload_mb); every other body gets max_bytes."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if headers.get("content-type", "").startswith("multipart/form-data"):
            return await self.app(scope, receive, send)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        kb = self.max_bytes // 1024
        body = json.dumps(
            {
                "code": "body_too_large",
                "message": f"The request body is over {kb} KB (LLM_TRAINER_MAX_BODY_KB). Send fewer or shorter texts "
                "per call, or predict a whole file with /api/predict/batch.",
                "details": {"max_kb": kb},
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

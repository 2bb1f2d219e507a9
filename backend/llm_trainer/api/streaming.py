"""A streamed response that always closes its source: when the client goes away mid-stream, Starlette stops reading
a sync iterator but never closes it, so a chat answer would keep generating (and hold the model) for nobody, and a
merged download would keep its scratch folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ClosingStreamingResponse(StreamingResponse):
    def __init__(self, content: Iterator[Any], **kwargs: Any) -> None:
        self._source = content
        super().__init__(content, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:  # a generator's finally runs now (it may wait for a token: off the event loop)
                await run_in_threadpool(close)


def sse_response(events: Iterator[str]) -> ClosingStreamingResponse:
    return ClosingStreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)

"""One way to stream live snapshots as server-sent events (runs, jobs): a hub subscription, one event per change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse

from llm_trainer.services.live import SnapshotHub, to_json

PING_S = 15


def snapshot_stream(
    request: Request,
    hub: SnapshotHub,
    event: str,
    key: int | None = None,
    last: Callable[[dict[str, Any]], bool] | None = None,
) -> EventSourceResponse:
    """`event` events carrying each snapshot as JSON; the stream ends after a snapshot for which `last` is true."""

    async def events():
        async for snap in hub.subscribe(key):
            if await request.is_disconnected():
                break
            yield {"event": event, "id": str(snap["id"]), "data": to_json(snap)}
            if last is not None and last(snap):
                break

    return EventSourceResponse(events(), ping=PING_S)

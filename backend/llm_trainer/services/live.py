"""Live snapshots for server-sent events: one DB poller per kind of record (runs, jobs) fans changes out to every
subscriber, so a hundred open pages cost one query a second, not a hundred."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.db.base import session_scope

log = logging.getLogger(__name__)
POLL_S = 1.0
QUEUE_SIZE = 100


class SnapshotHub:
    """Each second, read the records that may have changed once and push the snapshots that did to subscribers.

    A kind fills in three readers; snapshots are JSON-ready dicts with an `id`."""

    def __init__(self, factory: sessionmaker[Session], poll_s: float = POLL_S):
        self.factory = factory
        self.poll_s = poll_s
        self.subscribers: set[asyncio.Queue] = set()
        self.task: asyncio.Task | None = None
        self.last: dict[int, str] = {}

    def read_one(self, session: Session, key: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def read_changed(self, session: Session, known: list[int]) -> list[dict[str, Any]]:
        """Snapshots of the records still live plus `known` ones (whose last change may just have happened)."""
        raise NotImplementedError

    def is_live(self, snap: dict[str, Any]) -> bool:
        """True while the record may still change (queued, running): it stays watched."""
        raise NotImplementedError

    def read_current(self, session: Session) -> list[dict[str, Any]]:
        """What a new subscriber to every record gets first."""
        return self.read_changed(session, [])

    async def subscribe(self, key: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield snapshots as they change (first the current ones); `key` narrows to one record."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.subscribers.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._poll())
        try:
            for snap in await asyncio.to_thread(self._snapshot, key):
                yield snap
            while True:
                snap = await queue.get()
                if key is None or snap["id"] == key:
                    yield snap
        finally:
            self.subscribers.discard(queue)

    def _snapshot(self, key: int | None) -> list[dict[str, Any]]:
        with session_scope(self.factory) as session:
            if key is not None:
                snap = self.read_one(session, key)
                return [jsonable(snap)] if snap else []
            return [jsonable(s) for s in self.read_current(session)]

    def _changes(self) -> list[dict[str, Any]]:
        with session_scope(self.factory) as session:
            out = []
            seen: dict[int, str] = {}
            for snap in self.read_changed(session, list(self.last)):
                data = jsonable(snap)
                key = json.dumps(data, sort_keys=True, default=str)
                changed = self.last.get(data["id"]) != key
                if changed:
                    out.append(data)
                if changed or self.is_live(data):
                    seen[data["id"]] = key  # ended records are dropped once their final state went out
            self.last = seen
            return out

    async def _poll(self) -> None:
        while self.subscribers:
            try:
                changes = await asyncio.to_thread(self._changes)
            except Exception:  # noqa: BLE001 - a busy database must not end the stream; the next tick retries
                log.warning("%s: reading changes failed", type(self).__name__, exc_info=True)
                changes = []
            for snap in changes:
                for queue in list(self.subscribers):
                    if queue.full():
                        queue.get_nowait()  # a slow client loses old snapshots, not new ones
                    queue.put_nowait(snap)
            await asyncio.sleep(self.poll_s)
        self.task = None


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(to_json(data))

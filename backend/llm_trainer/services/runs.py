"""Reading runs for the UI: list, detail, metric history, logs, and one shared 1 Hz poller feeding live streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Run
from llm_trainer.db.repositories import model_versions as versions_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.services.training import get_run
from llm_trainer.worker.launch import log_path, tail

POLL_S = 1.0


def public_run(session: Session, run: Run, positions: dict[int, int] | None = None) -> dict[str, Any]:
    """Run columns plus its queue position and produced versions (the RunPublic shape)."""
    positions = positions if positions is not None else runs_repo.queue_positions(session)
    data = {c.name: getattr(run, c.name) for c in Run.__table__.columns}
    data["queue_position"] = positions.get(run.id)
    data["model_version_ids"] = [v.id for v in versions_repo.versions_of_run(session, run.id)]
    return data


def public_runs(session: Session, runs: list[Run]) -> list[dict[str, Any]]:
    positions = runs_repo.queue_positions(session)
    return [public_run(session, r, positions) for r in runs]


def list_runs(session: Session, *, status: str | None, limit: int, offset: int) -> dict[str, Any]:
    runs = runs_repo.list_runs(session, status=status, limit=limit, offset=offset)
    return {"items": public_runs(session, runs), "total": runs_repo.count_runs(session, status=status)}


def run_metrics(session: Session, run_id: int, *, kinds: list[str] | None, after_id: int, limit: int) -> dict:
    get_run(session, run_id)
    points = runs_repo.list_metrics(session, run_id, kinds=kinds, after_id=after_id, limit=limit)
    return {"items": points, "last_id": points[-1].id if points else after_id}


def run_logs(session: Session, settings: Settings, run_id: int, lines: int) -> dict[str, Any]:
    get_run(session, run_id)
    path = log_path(settings.runs_dir, run_id)
    size = path.stat().st_size if path.exists() else 0
    text = tail(path, lines=lines, max_bytes=max(64_000, lines * 400))
    return {"run_id": run_id, "lines": text.splitlines() if text else [], "size_bytes": size}


class RunEventHub:
    """One DB poller for all live clients: each second it reads the runs once and fans changes out to subscribers."""

    def __init__(self, factory: sessionmaker[Session]):
        self.factory = factory
        self.subscribers: set[asyncio.Queue] = set()
        self.task: asyncio.Task | None = None
        self.last: dict[int, str] = {}

    async def subscribe(self, run_id: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield run snapshots as they change (first the current ones); `run_id` narrows to one run."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self.subscribers.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._poll())
        try:
            for snap in await asyncio.to_thread(self._snapshot, run_id):
                yield snap
            while True:
                snap = await queue.get()
                if run_id is None or snap["id"] == run_id:
                    yield snap
        finally:
            self.subscribers.discard(queue)

    def _snapshot(self, run_id: int | None) -> list[dict[str, Any]]:
        with session_scope(self.factory) as session:
            if run_id is not None:
                run = runs_repo.get_run(session, run_id)
                return [_jsonable(public_run(session, run))] if run else []
            return [_jsonable(r) for r in public_runs(session, runs_repo.runs_changed_since(session, []))]

    def _changes(self) -> list[dict[str, Any]]:
        with session_scope(self.factory) as session:
            runs = runs_repo.runs_changed_since(session, list(self.last))
            out = []
            seen: dict[int, str] = {}
            for snap in public_runs(session, runs):
                data = _jsonable(snap)
                key = json.dumps(data, sort_keys=True, default=str)
                changed = self.last.get(data["id"]) != key
                if changed:
                    out.append(data)
                if changed or data["status"] in (*runs_repo.ACTIVE, "queued"):
                    seen[data["id"]] = key  # ended runs are dropped once their final state went out
            self.last = seen
            return out

    async def _poll(self) -> None:
        while self.subscribers:
            with contextlib.suppress(Exception):  # a busy database must not end the stream
                for snap in await asyncio.to_thread(self._changes):
                    for queue in list(self.subscribers):
                        if queue.full():
                            queue.get_nowait()  # a slow client loses old snapshots, not new ones
                        queue.put_nowait(snap)
            await asyncio.sleep(POLL_S)
        self.task = None


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(to_json(data))

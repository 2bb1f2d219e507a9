"""Reading runs for the UI: list, detail, metric history, logs, and the live run stream (services/live.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.db.models import Run
from llm_trainer.db.repositories import model_versions as versions_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.services.live import SnapshotHub
from llm_trainer.services.training import get_run
from llm_trainer.worker.launch import log_path, tail


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


class RunEventHub(SnapshotHub):
    """Live run snapshots (the RunPublic shape) for GET /api/runs/events and /api/runs/{id}/events."""

    def read_one(self, session: Session, key: int) -> dict[str, Any] | None:
        run = runs_repo.get_run(session, key)
        return public_run(session, run) if run else None

    def read_changed(self, session: Session, known: list[int]) -> list[dict[str, Any]]:
        return public_runs(session, runs_repo.runs_changed_since(session, known))

    def is_live(self, snap: dict[str, Any]) -> bool:
        return snap["status"] in (*runs_repo.ACTIVE, "queued")

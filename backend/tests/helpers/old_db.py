"""A database as an older release left it: migrated to an earlier revision, rows inserted with that schema's SQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from llm_trainer.db.base import make_engine
from llm_trainer.db.migrate import alembic_config


def old_database(path: Path, revision: str, *rows: str | tuple[str, dict]) -> Engine:
    """SQLite file at `revision` holding `rows` (INSERT statements, optionally with parameters); not yet upgraded."""
    engine = make_engine(path)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        for row in rows:
            sql, params = row if isinstance(row, tuple) else (row, {})
            conn.execute(text(sql), params)
    return engine

"""Upgrading a database from before tasks existed keeps every dataset, run and version, as classification."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from llm_trainer.db.migrate import upgrade_to_head
from tests.helpers.old_db import old_database


def test_rows_from_before_tasks_become_classification_and_keep_their_data(tmp_path: Path) -> None:
    engine = old_database(
        tmp_path / "old.sqlite3",
        "0001",
        "INSERT INTO datasets (id, name, description, filename, file_format, encoding, text_column, label_column, "
        "rows_read, row_count, labels, report, content_hash, created_at, updated_at) VALUES "
        "(1, 'old', '', 'a.csv', 'csv', 'utf-8', 'text', 'label', 1, 1, '{}', '{}', '', '2026-01-01', '2026-01-01')",
        "INSERT INTO dataset_rows (dataset_id, idx, text, label, split, conflict) "
        "VALUES (1, 0, '好吃', '正面', NULL, 0)",
    )
    upgrade_to_head(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT task, name FROM datasets")).one() == ("classification", "old")
        assert conn.execute(text("SELECT text, label, text_b, annotation FROM dataset_rows")).one() == (
            "好吃", "正面", None, None,
        )  # fmt: skip
        for table in ("runs", "model_versions"):
            columns = [row[1] for row in conn.execute(text(f"PRAGMA table_info({table})"))]
            assert "task" in columns
    engine.dispose()

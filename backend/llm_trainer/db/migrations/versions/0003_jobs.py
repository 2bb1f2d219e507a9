"""jobs: one table for all background work, carrying today's runs, batch jobs and exports over

Revision ID: 0003
Revises: 0002

Every run becomes a `train` job, every batch job a `batch_predict` job and every export variant recorded in a
version's `exports` JSON an `export` job, with the same status (exports: ready -> succeeded, building -> interrupted,
since the process building it is gone), timestamps and error message. The source rows are kept as they are.
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EXPORT_STATUS = {"ready": "succeeded", "failed": "failed", "building": "interrupted"}


def upgrade() -> None:
    jobs = op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("log_path", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_status_kind", "jobs", ["status", "kind"])
    conn = op.get_bind()
    rows: list[dict] = []
    for run in conn.execute(
        sa.text("SELECT id, status, progress, error_message, output_dir, created_at, started_at, finished_at FROM runs")
    ).mappings():
        # A run left "stopping" was being stopped by a process that is gone: it ends as interrupted.
        status = "interrupted" if run["status"] == "stopping" else run["status"]
        rows.append(
            _row("train", status, {"run_id": run["id"]}, run, progress=_json(run["progress"]), log=run["output_dir"])
        )
    for job in conn.execute(
        sa.text(
            "SELECT id, model_id, status, input_path, output_path, total, done, metrics, error_message, created_at, "
            "finished_at FROM batch_jobs"
        )
    ).mappings():
        params = {"batch_job_id": job["id"], "model_id": job["model_id"], "input_path": job["input_path"]}
        result = {"output_path": job["output_path"], "metrics": _numbers(_json(job["metrics"]))}
        progress = {"done": job["done"], "total": job["total"], "message": ""}
        rows.append(_row("batch_predict", job["status"], params, job, progress=progress, result=result))
    for version in conn.execute(sa.text("SELECT id, exports, created_at FROM model_versions")).mappings():
        for variant, info in (_json(version["exports"]).get("variants") or {}).items():
            status = EXPORT_STATUS.get(info.get("status"), "failed")
            params = {"version_id": version["id"], "variant": variant}
            fields = {"error_message": info.get("error", ""), "created_at": version["created_at"]}
            rows.append(_row("export", status, params, fields, result={"version_id": version["id"]}))
    if rows:
        op.bulk_insert(jobs, rows)


def _row(kind: str, status: str, params: dict, src, *, progress=None, result=None, log: str = "") -> dict:
    return {
        "kind": kind,
        "status": status,
        "params": params,
        "result": {"version_id": None, "output_path": "", "metrics": {}, **(result or {})},
        "progress": progress or {},
        "error_message": src.get("error_message") or "",
        "owner": "",
        "attempts": 0,
        "log_path": log or "",
        "created_at": _when(src.get("created_at")),
        "started_at": _when(src.get("started_at")),
        "heartbeat_at": None,
        "finished_at": _when(src.get("finished_at")),
    }


def _json(value) -> dict:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return value if isinstance(value, dict) else {}


def _numbers(values: dict) -> dict:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _when(value):
    # SQLite hands back stored datetimes as text; bulk_insert needs datetime objects.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def downgrade() -> None:
    op.drop_index("ix_jobs_status_kind", table_name="jobs")
    op.drop_table("jobs")

"""every run has its train job: runs queued by a process from before the job system get theirs once, here

Revision ID: 0005
Revises: 0004

0003 carried every run of its day over; a run created afterwards by an older process (a CLI still running old code)
had none, and the scheduler used to create it on its tick. Now the job is made once here and reading a run's job is
a plain read. A run left running or stopping belonged to a process that is gone: its job is interrupted.
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GONE = {"running": "interrupted", "stopping": "interrupted"}


def upgrade() -> None:
    conn = op.get_bind()
    have = set()
    for (params,) in conn.execute(sa.text("SELECT params FROM jobs WHERE kind = 'train'")):
        run_id = (json.loads(params) if isinstance(params, str) else params or {}).get("run_id")
        have.add(run_id)
    jobs = sa.table(
        "jobs",
        *(sa.column(name) for name in ("kind", "status", "error_message", "owner", "attempts", "log_path")),
        sa.column("params", sa.JSON()),
        sa.column("result", sa.JSON()),
        sa.column("progress", sa.JSON()),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in ("created_at", "started_at", "finished_at")),
    )
    runs = conn.execute(
        sa.text("SELECT id, status, error_message, output_dir, created_at, started_at, finished_at FROM runs")
    ).mappings()
    rows = [
        {
            "kind": "train",
            "status": GONE.get(run["status"], run["status"]),
            "params": {"run_id": run["id"]},
            "result": {"version_id": None, "output_path": "", "metrics": {}},
            "progress": {},
            "error_message": run["error_message"] or "",
            "owner": "",
            "attempts": 0,
            "log_path": run["output_dir"] or "",
            "created_at": _when(run["created_at"]),
            "started_at": _when(run["started_at"]),
            "finished_at": _when(run["finished_at"]),
        }
        for run in runs
        if run["id"] not in have
    ]
    if rows:
        op.bulk_insert(jobs, rows)


def _when(value):
    # SQLite hands back stored datetimes as text; bulk_insert needs datetime objects.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def downgrade() -> None:
    pass  # the jobs stay: they are what 0004's code would have created lazily

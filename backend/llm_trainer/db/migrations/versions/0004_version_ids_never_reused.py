"""model_versions ids are never reused (SQLite AUTOINCREMENT), so a cached model can never answer for another version

Revision ID: 0004
Revises: 0003

SQLite hands a deleted highest id to the next row unless the table is declared AUTOINCREMENT, which needs the table
rebuilt. Dropping the old table fires batch_jobs' ON DELETE SET NULL, so their version links are saved and put back.
PostgreSQL sequences never repeat an id: nothing to do there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    links = conn.execute(sa.text("SELECT id, model_id FROM batch_jobs WHERE model_id IS NOT NULL")).all()
    with op.batch_alter_table(
        "model_versions", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    for batch_id, model_id in links:
        conn.execute(sa.text("UPDATE batch_jobs SET model_id = :m WHERE id = :b"), {"m": model_id, "b": batch_id})

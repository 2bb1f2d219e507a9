"""task on datasets, runs and versions; pair text and structured targets on rows

Revision ID: 0002
Revises: 0001

Existing rows become `classification` (the only task before this revision), so nothing about them changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TASK_TABLES = ("datasets", "runs", "model_versions")


def upgrade() -> None:
    for table in TASK_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("task", sa.String(length=20), nullable=False, server_default="classification")
            )
    with op.batch_alter_table("dataset_rows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_b", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("annotation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_rows", schema=None) as batch_op:
        batch_op.drop_column("annotation")
        batch_op.drop_column("text_b")
    for table in TASK_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("task")

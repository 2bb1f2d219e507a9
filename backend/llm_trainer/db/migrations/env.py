"""Alembic environment: runs migrations on the connection handed in by llm_trainer.db.migrate."""

from alembic import context

from llm_trainer.db import models  # noqa: F401 - registers tables on Base.metadata
from llm_trainer.db.base import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: migrations run on the connection ledger.py hands over (no alembic.ini)."""

from alembic import context

from course_pipeline.ledger import metadata

connection = context.config.attributes["connection"]
# Batch mode lets SQLite alter tables (it copies them); PostgreSQL alters in place.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic migrations of the sync ledger (ledger.py runs them when it opens a database)."""

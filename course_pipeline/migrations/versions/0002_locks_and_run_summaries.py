"""Who holds each vendor account's sync lock (for the waiting message), and one summary row per
sync step (so unchanged items no longer need an outcome row every run).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_locks",
        sa.Column("vendor", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String(40), nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sync_runs_run", "sync_runs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_runs_run", "sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("sync_locks")

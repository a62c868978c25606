"""The ledger as the first release made it (metadata.create_all, before migrations existed).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_state",
        sa.Column("vendor", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("course_id", sa.String(255), primary_key=True),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("vendor_id", sa.String(255)),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("pending_hash", sa.String(64)),
        sa.Column("payload_json", sa.LargeBinary),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sync_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String(40), nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("course_id", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255)),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("error_code", sa.String(120)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("vendor_id", sa.String(255)),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("source_file", sa.String(255)),
        sa.Column("source_sheet", sa.String(1000)),
        sa.Column("source_row", sa.Integer),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outcomes_run", "sync_outcomes", ["run_id"])
    op.create_index("ix_outcomes_item", "sync_outcomes", ["vendor", "account", "course_id"])
    op.create_table(
        "rate_windows",
        sa.Column("vendor", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("sent_at", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_index("ix_outcomes_item", "sync_outcomes")
    op.drop_index("ix_outcomes_run", "sync_outcomes")
    op.drop_table("sync_outcomes")
    op.drop_table("sync_state")

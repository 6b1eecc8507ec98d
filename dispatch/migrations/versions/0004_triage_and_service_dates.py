"""catalog_items.manual_triage, jobs.no_date_reason: requests flow into plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Requests are now triaged at intake and given a service date. A catalog item can
send its requests to the triage queue instead (``manual_triage``), and a job for
which no day could be chosen keeps the reason for the dispatcher to read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("manual_triage", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("no_date_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("no_date_reason")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_column("manual_triage")

"""events: refuse TRUNCATE as well

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The triggers of 0001 are row-level, and PostgreSQL's TRUNCATE fires no row
triggers, so it emptied the append-only event log. A statement-level
BEFORE TRUNCATE trigger refuses it. SQLite has no TRUNCATE: its unqualified
DELETE fires the row triggers of 0001 (the truncate optimisation is off when a
table has triggers), so it needs nothing here.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events"
            " FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_no_truncate ON events")

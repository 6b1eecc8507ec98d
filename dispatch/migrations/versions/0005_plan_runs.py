"""plan_runs: optimization runs of a service day, at most one active per day

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

A run records who asked for a plan of which day, its state and the best score,
jobs served and elapsed time as the search improves. A partial unique index on
the day, limited to queued and running runs, lets the database refuse a second
active run of the same day even when two requests race.
"""

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "plan_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                name="runstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("time_limit_s", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("best_score", sa.Double(), nullable=True),
        sa.Column("served", sa.Integer(), nullable=True),
        sa.Column("elapsed_s", sa.Double(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("time_limit_s > 0", name=op.f("ck_plan_runs_positive_time_limit")),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_plan_runs_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_runs")),
    )
    op.create_index(
        "ix_plan_runs_one_active_per_day",
        "plan_runs",
        ["service_date"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_plan_runs_one_active_per_day", table_name="plan_runs")
    op.drop_table("plan_runs")

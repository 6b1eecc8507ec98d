"""plans and day_plans: proposals and published versions; the run's queue link

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

A finished run leaves a proposal in ``plans``; publishing one makes it the day's
plan, whose version ``day_plans`` keeps (the ETag of manual edits). Runs gain why
they were asked for, whether they re-plan from the published plan and publish
themselves, a heartbeat from
their worker and the job queue's id.
"""

import sqlalchemy as sa
from alembic import op

import dbtypes

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "published",
                "superseded",
                "discarded",
                name="planstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("base_version >= 0", name=op.f("ck_plans_base_version_not_negative")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_plans_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_plans_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["plan_runs.id"],
            name=op.f("fk_plans_run_id_plan_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("run_id", name=op.f("uq_plans_run_id")),
    )
    op.create_index("ix_plans_service_date_status", "plans", ["service_date", "status"])
    op.create_table(
        "day_plans",
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version > 0", name=op.f("ck_day_plans_positive_version")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_day_plans_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("service_date", name=op.f("pk_day_plans")),
    )
    with op.batch_alter_table("plan_runs") as batch_op:
        batch_op.add_column(
            sa.Column("reason", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("replan", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("auto_publish", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("heartbeat_at", dbtypes.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("queue_job_id", sa.BigInteger(), nullable=True))
    # The defaults only filled existing rows; the model supplies values from now on.
    with op.batch_alter_table("plan_runs") as batch_op:
        batch_op.alter_column("reason", server_default=None)
        batch_op.alter_column("replan", server_default=None)
        batch_op.alter_column("auto_publish", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("plan_runs") as batch_op:
        batch_op.drop_column("queue_job_id")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("auto_publish")
        batch_op.drop_column("replan")
        batch_op.drop_column("reason")
    op.drop_table("day_plans")
    op.drop_index("ix_plans_service_date_status", table_name="plans")
    op.drop_table("plans")

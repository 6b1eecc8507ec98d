"""field work: phone devices and tokens, the change feed, idempotent answers, field records

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

Phones sign in as devices holding hashed bearer tokens; ``feed_events`` is the ordered
feed that delta sync and the live streams read; ``idempotency_keys`` keeps the first
answer to a change sent with an ``Idempotency-Key``. Status reports, notes, photos and
signatures, and parts used are kept by the id the phone gave them. Catalog items gain
the checklist a technician works through on site.
"""

import sqlalchemy as sa
from alembic import op

import dbtypes

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_events")),
    )
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feed_events_technician_id_id", ["technician_id", "id"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_devices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "device_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "access",
                "refresh",
                name="tokenkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("expires_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_tokens_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_device_tokens")),
    )
    with op.batch_alter_table("device_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_tokens_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "job_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "photo",
                "signature",
                name="attachmentkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("device_time", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_job_attachments_positive_size")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_attachments_job_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_job_attachments_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_attachments")),
    )
    with op.batch_alter_table("job_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_attachments_job_id"), ["job_id"], unique=False)

    op.create_table(
        "job_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("device_time", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"], ["users.id"], name=op.f("fk_job_notes_author_user_id_users")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_notes_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_notes")),
    )
    with op.batch_alter_table("job_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_notes_job_id"), ["job_id"], unique=False)

    op.create_table(
        "part_usages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("device_time", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_part_usages_positive_quantity")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_part_usages_job_id_jobs")),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technicians.id"],
            name=op.f("fk_part_usages_technician_id_technicians"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_usages")),
    )
    with op.batch_alter_table("part_usages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_part_usages_job_id"), ["job_id"], unique=False)

    op.create_table(
        "status_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "triaged",
                "awaiting_approval",
                "scheduled",
                "dispatched",
                "en_route",
                "on_site",
                "paused",
                "completed",
                "cannot_complete",
                "cancelled",
                "on_hold",
                name="jobstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("device_time", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "applied",
                "superseded",
                name="reportoutcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90",
            name=op.f("ck_status_reports_latitude_range"),
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180",
            name=op.f("ck_status_reports_longitude_range"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_status_reports_job_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technicians.id"],
            name=op.f("fk_status_reports_technician_id_technicians"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_reports")),
    )
    with op.batch_alter_table("status_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_reports_job_id"), ["job_id"], unique=False)

    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checklist", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_column("checklist")

    with op.batch_alter_table("status_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_reports_job_id"))

    op.drop_table("status_reports")
    with op.batch_alter_table("part_usages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_part_usages_job_id"))

    op.drop_table("part_usages")
    with op.batch_alter_table("job_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_notes_job_id"))

    op.drop_table("job_notes")
    with op.batch_alter_table("job_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_attachments_job_id"))

    op.drop_table("job_attachments")
    with op.batch_alter_table("device_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_tokens_device_id"))

    op.drop_table("device_tokens")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_user_id"))

    op.drop_table("devices")
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_events_technician_id_id")

    op.drop_table("feed_events")

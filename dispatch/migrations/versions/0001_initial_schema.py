"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Also installs the triggers that make ``events`` append-only.
"""

import sqlalchemy as sa
from alembic import op

import dispatch.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("default_duration_min", sa.Integer(), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("typical_parts", sa.JSON(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "default_duration_min > 0", name=op.f("ck_catalog_items_positive_duration")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("code", name=op.f("uq_catalog_items_code")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("entity_type", sa.String(length=60), nullable=False),
        sa.Column("entity_id", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "geocode_cache",
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("display_name", sa.String(length=500), nullable=False),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("query", name=op.f("pk_geocode_cache")),
    )
    op.create_table(
        "reference_counters",
        sa.Column("series", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_reference_counters")),
    )
    op.create_table(
        "service_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("travel_model", sa.String(length=20), nullable=False),
        sa.Column("travel_speed_kmh", sa.Double(), nullable=False),
        sa.Column("travel_circuity", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "travel_circuity >= 1", name=op.f("ck_service_days_circuity_at_least_one")
        ),
        sa.CheckConstraint("travel_speed_kmh > 0", name=op.f("ck_service_days_positive_speed")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_service_days")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("access_notes", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_sites_latitude_range")),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_sites_longitude_range")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sites_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "sla_targets",
        sa.Column("catalog_item_id", sa.Integer(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "emergency",
                "high",
                "normal",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "resolution_minutes >= response_minutes",
            name=op.f("ck_sla_targets_resolution_after_response"),
        ),
        sa.CheckConstraint("response_minutes > 0", name=op.f("ck_sla_targets_positive_response")),
        sa.ForeignKeyConstraint(
            ["catalog_item_id"],
            ["catalog_items.id"],
            name=op.f("fk_sla_targets_catalog_item_id_catalog_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("catalog_item_id", "priority", name=op.f("pk_sla_targets")),
    )
    op.create_table(
        "technicians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("home_latitude", sa.Double(), nullable=False),
        sa.Column("home_longitude", sa.Double(), nullable=False),
        sa.Column("end_latitude", sa.Double(), nullable=True),
        sa.Column("end_longitude", sa.Double(), nullable=True),
        sa.Column("break_earliest", sa.Time(), nullable=True),
        sa.Column("break_latest", sa.Time(), nullable=True),
        sa.Column("break_minutes", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "(break_earliest IS NULL) = (break_latest IS NULL) AND (break_earliest IS NULL) = (break_minutes IS NULL)",
            name=op.f("ck_technicians_break_rule_complete"),
        ),
        sa.CheckConstraint(
            "break_minutes IS NULL OR break_minutes > 0",
            name=op.f("ck_technicians_positive_break"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_technicians_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technicians")),
        sa.UniqueConstraint("code", name=op.f("uq_technicians_code")),
        sa.UniqueConstraint("user_id", name=op.f("uq_technicians_user_id")),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "dispatcher",
                "technician",
                "warehouse",
                "requester",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "days_off",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technicians.id"],
            name=op.f("fk_days_off_technician_id_technicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("technician_id", "day", name=op.f("pk_days_off")),
    )
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "email",
                "phone",
                "api",
                "mobile",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requester_user_id", sa.Integer(), nullable=True),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("requester_email", sa.String(length=254), nullable=True),
        sa.Column("requester_phone", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("catalog_item_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "impact",
            sa.Enum(
                "high",
                "medium",
                "low",
                name="impact",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "urgency",
            sa.Enum(
                "high",
                "medium",
                "low",
                name="urgency",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "emergency",
                "high",
                "normal",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sla_response_due", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sla_resolution_due", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_item_id"],
            ["catalog_items.id"],
            name=op.f("fk_service_requests_catalog_item_id_catalog_items"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_service_requests_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_user_id"],
            ["users.id"],
            name=op.f("fk_service_requests_requester_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_service_requests_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_service_requests_reference")),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_requests_site_id"), ["site_id"], unique=False)

    op.create_table(
        "working_hours",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "start_time < end_time", name=op.f("ck_working_hours_start_before_end")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_working_hours_weekday_range")),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technicians.id"],
            name=op.f("fk_working_hours_technician_id_technicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("technician_id", "weekday", name=op.f("pk_working_hours")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
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
        sa.Column(
            "priority",
            sa.Enum(
                "emergency",
                "high",
                "normal",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("window_start", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_end", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sla_due", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("pinned_technician_id", sa.Integer(), nullable=True),
        sa.Column("planned_start", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned_end", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", dispatch.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "hold_reason",
            sa.Enum(
                "awaiting_parts",
                "awaiting_approval",
                "awaiting_customer",
                name="holdreason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("follow_up_of_id", sa.Integer(), nullable=True),
        sa.Column("created_at", dispatch.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("duration_min > 0", name=op.f("ck_jobs_positive_duration")),
        sa.CheckConstraint(
            "planned_start IS NULL OR planned_end IS NULL OR planned_start <= planned_end",
            name=op.f("ck_jobs_planned_ordered"),
        ),
        sa.CheckConstraint(
            "window_start IS NULL OR window_end IS NULL OR window_start < window_end",
            name=op.f("ck_jobs_window_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_of_id"], ["jobs.id"], name=op.f("fk_jobs_follow_up_of_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["pinned_technician_id"],
            ["technicians.id"],
            name=op.f("fk_jobs_pinned_technician_id_technicians"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_jobs_request_id_service_requests"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_jobs_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["technician_id"], ["technicians.id"], name=op.f("fk_jobs_technician_id_technicians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("reference", name=op.f("uq_jobs_reference")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_request_id"), ["request_id"], unique=False)
        batch_op.create_index(
            "ix_jobs_status_service_date", ["status", "service_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_jobs_technician_id"), ["technician_id"], unique=False)

    op.create_table(
        "job_parts",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_job_parts_positive_quantity")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_parts_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "sku", name=op.f("pk_job_parts")),
    )
    op.create_table(
        "parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parts")),
        sa.UniqueConstraint("sku", name=op.f("uq_parts_sku")),
    )
    op.create_table(
        "stock_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "warehouse",
                "van",
                name="locationkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("opens", sa.Time(), nullable=True),
        sa.Column("closes", sa.Time(), nullable=True),
        sa.Column("pickup_minutes", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'van') = (technician_id IS NOT NULL)",
            name=op.f("ck_stock_locations_van_has_technician"),
        ),
        sa.CheckConstraint(
            "kind = 'van' OR (latitude IS NOT NULL AND longitude IS NOT NULL AND opens IS NOT NULL AND closes IS NOT NULL AND opens < closes AND pickup_minutes IS NOT NULL AND pickup_minutes >= 0)",
            name=op.f("ck_stock_locations_warehouse_complete"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_stock_locations_code")),
        sa.UniqueConstraint("technician_id", name=op.f("uq_stock_locations_technician_id")),
    )
    op.create_table(
        "stock_levels",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_levels_not_negative")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_levels_location_id_stock_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_stock_levels_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("location_id", "part_id", name=op.f("pk_stock_levels")),
    )
    _make_events_append_only()


def downgrade() -> None:
    _drop_events_append_only()
    op.drop_table("stock_levels")
    op.drop_table("stock_locations")
    op.drop_table("parts")
    op.drop_table("job_parts")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_technician_id"))
        batch_op.drop_index("ix_jobs_status_service_date")
        batch_op.drop_index(batch_op.f("ix_jobs_request_id"))

    op.drop_table("jobs")
    op.drop_table("working_hours")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_requests_site_id"))
        batch_op.drop_index(batch_op.f("ix_service_requests_customer_id"))

    op.drop_table("service_requests")
    op.drop_table("days_off")
    op.drop_table("user_roles")
    op.drop_table("technicians")
    op.drop_table("sla_targets")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_customer_id"))

    op.drop_table("sites")
    op.drop_table("users")
    op.drop_table("service_days")
    op.drop_table("reference_counters")
    op.drop_table("geocode_cache")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_entity")

    op.drop_table("events")
    op.drop_table("customers")
    op.drop_table("catalog_items")


def _make_events_append_only() -> None:
    """Refuse UPDATE and DELETE on the event log at the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events"
            " FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{operation.lower()} BEFORE {operation} ON events"
                " BEGIN SELECT RAISE(ABORT, 'events is append-only'); END"
            )


def _drop_events_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_append_only ON events")
        op.execute("DROP FUNCTION events_append_only()")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER events_no_{operation}")

"""inventory: the stock ledger, reservations, reorder rules

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

Stock levels become balances of an append-only ledger (``stock_movements``, whose
UPDATE and DELETE the database refuses, as for ``events``). Levels gain what is
reserved; the quantities already stored enter the ledger as opening balances, so
that every balance is the sum of its movements from the start. Parts gain a unit
and a cost, warehouses an address; ``stock_reservations`` holds each planned job's
parts, ``reorder_rules`` when a location needs topping up.
"""

import sqlalchemy as sa
from alembic import op

import dbtypes

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The batch of the opening balances this migration writes.
OPENING_BATCH = "00000000-0000-0000-0000-000000000008"


def upgrade() -> None:
    op.create_table(
        "reorder_rules",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column("reorder_quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("reorder_point >= 0", name=op.f("ck_reorder_rules_point_not_negative")),
        sa.CheckConstraint(
            "reorder_quantity > 0", name=op.f("ck_reorder_rules_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_reorder_rules_location_id_stock_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_reorder_rules_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("location_id", "part_id", name=op.f("pk_reorder_rules")),
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "receive",
                "transfer_out",
                "transfer_in",
                "reserve",
                "release",
                "consume",
                "return",
                "adjust",
                name="movementkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("on_hand_change", sa.Integer(), nullable=False),
        sa.Column("reserved_change", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("counterpart_id", sa.Integer(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'receive' AND on_hand_change > 0 AND reserved_change = 0) OR (kind = 'transfer_out' AND on_hand_change < 0 AND reserved_change = 0) OR (kind = 'transfer_in' AND on_hand_change > 0 AND reserved_change = 0) OR (kind = 'reserve' AND on_hand_change = 0 AND reserved_change > 0) OR (kind = 'release' AND on_hand_change = 0 AND reserved_change < 0) OR (kind = 'consume' AND on_hand_change < 0 AND reserved_change = 0) OR (kind = 'return' AND on_hand_change > 0 AND reserved_change = 0) OR (kind = 'adjust' AND on_hand_change <> 0 AND reserved_change = 0)",
            name=op.f("ck_stock_movements_effect_matches_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["counterpart_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_movements_counterpart_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_movements_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_stock_movements_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_movements_batch"), ["batch"], unique=False)
        batch_op.create_index("ix_stock_movements_job_id", ["job_id"], unique=False)
        batch_op.create_index(
            "ix_stock_movements_location_part", ["location_id", "part_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_movements_occurred_at"), ["occurred_at"], unique=False
        )

    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("van_id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("wanted", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= wanted",
            name=op.f("ck_stock_reservations_reserved_within_wanted"),
        ),
        sa.CheckConstraint("wanted > 0", name=op.f("ck_stock_reservations_wanted_positive")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_reservations_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_stock_reservations_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["van_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_reservations_van_id_stock_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservations")),
        sa.UniqueConstraint(
            "job_id",
            "part_id",
            "location_id",
            name=op.f("uq_stock_reservations_job_id_part_id_location_id"),
        ),
    )
    with op.batch_alter_table("stock_reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_reservations_location_part", ["location_id", "part_id"], unique=False
        )
        batch_op.create_index("ix_stock_reservations_service_date", ["service_date"], unique=False)

    with op.batch_alter_table("parts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit", sa.String(length=20), nullable=False, server_default="each")
        )
        batch_op.add_column(
            sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=True)
        )

    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reserved", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint(
            op.f("ck_stock_levels_reserved_covered"), "reserved >= 0 AND reserved <= on_hand"
        )
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.alter_column("reserved", server_default=None)

    with op.batch_alter_table("stock_locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))

    op.execute(
        "INSERT INTO stock_movements (batch, kind, location_id, part_id, on_hand_change,"
        " reserved_change, reason, actor, occurred_at, flagged)"
        f" SELECT '{OPENING_BATCH}', 'adjust', location_id, part_id, on_hand, 0,"
        " 'opening balance', 'migration 0008', CURRENT_TIMESTAMP, false"
        " FROM stock_levels WHERE on_hand > 0 ORDER BY location_id, position, part_id"
    )
    _make_movements_append_only()


def _make_movements_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION stock_movements_append_only() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'stock_movements is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE"
            " ON stock_movements FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only()"
        )
        op.execute(
            "CREATE TRIGGER stock_movements_no_truncate BEFORE TRUNCATE ON stock_movements"
            " FOR EACH STATEMENT EXECUTE FUNCTION stock_movements_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER stock_movements_no_{operation.lower()} BEFORE {operation}"
                " ON stock_movements BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only');"
                " END"
            )


def _drop_movements_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER stock_movements_no_truncate ON stock_movements")
        op.execute("DROP TRIGGER stock_movements_append_only ON stock_movements")
        op.execute("DROP FUNCTION stock_movements_append_only()")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER stock_movements_no_{operation}")


def downgrade() -> None:
    _drop_movements_append_only()
    op.drop_table("stock_reservations")
    op.drop_table("stock_movements")
    op.drop_table("reorder_rules")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_stock_levels_reserved_covered"), type_="check")
        batch_op.drop_column("reserved")
    # Parts and locations are referred to by stock levels: dropped in place, never
    # re-created (SQLite has had DROP COLUMN since 3.35).
    for table, column in (
        ("stock_locations", "address"),
        ("parts", "unit_cost"),
        ("parts", "unit"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

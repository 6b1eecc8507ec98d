"""Parts, where they are kept, and the stock ledger.

This package knows nothing of dispatch: a van names its technician, a movement or a
reservation its job and plan, by id only.

``stock_movements`` is the ledger: append-only (the database refuses UPDATE and
DELETE), one row per effect on one location. ``stock_levels`` holds each location's
balance of each part, which is always the sum of its movements (``inventory.ledger``
is the only writer of both), and ``stock_reservations`` the current reservation of
each job's parts, whose totals per location are the levels' ``reserved``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dbtypes import NAMING_CONVENTION, BigIntPK, UTCDateTime, str_enum


class InventoryBase(DeclarativeBase):
    """Declarative base of the inventory domain."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    VAN = "van"


class MovementKind(StrEnum):
    """What a ledger row records; each kind moves one balance one way (``EFFECTS``)."""

    RECEIVE = "receive"  # into a warehouse from a supplier
    TRANSFER_OUT = "transfer_out"  # the leaving half of a transfer
    TRANSFER_IN = "transfer_in"  # the arriving half, same batch
    RESERVE = "reserve"  # held for a job
    RELEASE = "release"  # a hold given up
    CONSUME = "consume"  # used on a job
    RETURN = "return"  # a part reported used on a job, brought back unused
    ADJUST = "adjust"  # a count, an import, or a field report the books did not expect


class Part(InventoryBase):
    """A stocked part. Quantities are whole numbers of its ``unit``."""

    __tablename__ = "parts"
    __table_args__ = (CheckConstraint("unit_cost IS NULL OR unit_cost >= 0", name="cost"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20), default="each", server_default="each")
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))


class StockLocation(InventoryBase):
    """A warehouse (with address and opening hours) or a technician's van."""

    __tablename__ = "stock_locations"
    __table_args__ = (
        CheckConstraint("(kind = 'van') = (technician_id IS NOT NULL)", name="van_has_technician"),
        CheckConstraint(
            "kind = 'van' OR (latitude IS NOT NULL AND longitude IS NOT NULL"
            " AND opens IS NOT NULL AND closes IS NOT NULL AND opens < closes"
            " AND pickup_minutes IS NOT NULL AND pickup_minutes >= 0)",
            name="warehouse_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[LocationKind] = mapped_column(str_enum(LocationKind, length=16))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    technician_id: Mapped[int | None] = mapped_column(unique=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    opens: Mapped[time | None]
    closes: Mapped[time | None]
    pickup_minutes: Mapped[int | None]

    levels: Mapped[list[StockLevel]] = relationship(
        back_populates="location", cascade="all, delete-orphan", order_by="StockLevel.position"
    )


class StockLevel(InventoryBase):
    """One part's balance at one location: the sum of its ledger rows.

    ``reserved`` never exceeds ``on_hand``: a reservation that would need more is
    refused, and a fact that lowers ``on_hand`` (a count, a part used) first gives up
    the latest reservations it no longer covers.
    """

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_covered"),
    )
    __audited__ = False  # the ledger is its history

    location_id: Mapped[int] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="CASCADE"), primary_key=True
    )
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)  # listing order, kept for exports

    location: Mapped[StockLocation] = relationship(back_populates="levels")
    part: Mapped[Part] = relationship(lazy="joined")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class ReorderRule(InventoryBase):
    """When one part at one location needs topping up, and by how much."""

    __tablename__ = "reorder_rules"
    __table_args__ = (
        CheckConstraint("reorder_point >= 0", name="point_not_negative"),
        CheckConstraint("reorder_quantity > 0", name="quantity_positive"),
    )

    location_id: Mapped[int] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="CASCADE"), primary_key=True
    )
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), primary_key=True)
    reorder_point: Mapped[int]
    reorder_quantity: Mapped[int]

    location: Mapped[StockLocation] = relationship()
    part: Mapped[Part] = relationship(lazy="joined")


#: (on hand, reserved) sign of each kind: a row's changes have these signs, or are 0.
EFFECTS: dict[MovementKind, tuple[int, int]] = {
    MovementKind.RECEIVE: (1, 0),
    MovementKind.TRANSFER_OUT: (-1, 0),
    MovementKind.TRANSFER_IN: (1, 0),
    MovementKind.RESERVE: (0, 1),
    MovementKind.RELEASE: (0, -1),
    MovementKind.CONSUME: (-1, 0),
    MovementKind.RETURN: (1, 0),
}


def _effects_check() -> str:
    clauses = [
        f"(kind = '{kind.value}' AND on_hand_change {'>' if h > 0 else '<' if h < 0 else '='} 0"
        f" AND reserved_change {'>' if r > 0 else '<' if r < 0 else '='} 0)"
        for kind, (h, r) in EFFECTS.items()
    ]
    clauses.append("(kind = 'adjust' AND on_hand_change <> 0 AND reserved_change = 0)")
    return " OR ".join(clauses)


class Movement(InventoryBase):
    """One ledger row: a change to one part's balance at one location, and why.

    Rows posted together (the two halves of a transfer, a pick list's lines) share a
    ``batch``. ``flagged`` marks a fact the books did not expect (a part used that
    the van was not known to hold), for warehouse staff to reconcile.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(_effects_check(), name="effect_matches_kind"),
        Index("ix_stock_movements_location_part", "location_id", "part_id", "id"),
        Index("ix_stock_movements_job_id", "job_id"),
    )
    __audited__ = False  # the ledger is its own record

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[MovementKind] = mapped_column(str_enum(MovementKind, length=16))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    on_hand_change: Mapped[int]
    reserved_change: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    actor_user_id: Mapped[int | None]  # no FK: the ledger outlives users
    actor: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    job_id: Mapped[int | None]
    plan_id: Mapped[int | None]
    service_date: Mapped[date | None]  # the day a reservation is for
    counterpart_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"))
    flagged: Mapped[bool] = mapped_column(default=False)

    location: Mapped[StockLocation] = relationship(foreign_keys=[location_id])
    counterpart: Mapped[StockLocation | None] = relationship(foreign_keys=[counterpart_id])
    part: Mapped[Part] = relationship()


class Reservation(InventoryBase):
    """A job's hold on a part at one location: in the van, or at the warehouse where
    the route picks it up (``van_id`` names the van it is for).

    ``wanted`` is what the plan needs, ``reserved`` what the stock could hold for it;
    a job with ``reserved < wanted`` on any line is waiting for stock.
    """

    __tablename__ = "stock_reservations"
    __table_args__ = (
        UniqueConstraint("job_id", "part_id", "location_id"),
        CheckConstraint("wanted > 0", name="wanted_positive"),
        CheckConstraint("reserved >= 0 AND reserved <= wanted", name="reserved_within_wanted"),
        Index("ix_stock_reservations_location_part", "location_id", "part_id"),
        Index("ix_stock_reservations_service_date", "service_date"),
    )
    __audited__ = False  # the ledger's reserve and release rows are its history

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int]
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    van_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    service_date: Mapped[date]
    plan_id: Mapped[int | None]
    # Where in the route the units enter the van: the pick-up's stop index for a line at a
    # warehouse, the job's own for a line in the van.
    sequence: Mapped[int] = mapped_column(default=0)
    wanted: Mapped[int]
    reserved: Mapped[int]

    part: Mapped[Part] = relationship(lazy="joined")
    location: Mapped[StockLocation] = relationship(foreign_keys=[location_id])
    van: Mapped[StockLocation] = relationship(foreign_keys=[van_id])

    @property
    def short(self) -> int:
        return self.wanted - self.reserved

"""Parts and where they are: warehouses and technicians' vans.

This package knows nothing of dispatch: a van names its technician by id only.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dbtypes import NAMING_CONVENTION, str_enum


class InventoryBase(DeclarativeBase):
    """Declarative base of the inventory domain."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    VAN = "van"


class Part(InventoryBase):
    __tablename__ = "parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))


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
    """How many of one part are on hand at one location."""

    __tablename__ = "stock_levels"
    __table_args__ = (CheckConstraint("on_hand >= 0", name="not_negative"),)

    location_id: Mapped[int] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="CASCADE"), primary_key=True
    )
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), primary_key=True)
    on_hand: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)  # listing order, kept for exports

    location: Mapped[StockLocation] = relationship(back_populates="levels")
    part: Mapped[Part] = relationship(lazy="joined")

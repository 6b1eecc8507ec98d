"""Use cases of the inventory: the parts catalogue, warehouses, vans and their stock.

Functions take the caller's session first and may flush, never commit: the caller's
transaction decides. Stock changes go through ``inventory.ledger``, here as the
adjustments an import makes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session, selectinload

from inventory.ledger import SYSTEM, Actor, set_on_hand
from inventory.models import LocationKind, Part, ReorderRule, StockLevel, StockLocation

#: Vans are coded ``VAN-<technician code>``; warehouse codes may not start with it.
VAN_PREFIX = "VAN-"


def van_code(technician_code: str) -> str:
    """The stock-location code of a technician's van."""
    return f"{VAN_PREFIX}{technician_code}"


def van_name(technician_name: str) -> str:
    """The display name of a technician's van."""
    return f"Van of {technician_name}"


@dataclass(frozen=True, slots=True)
class WarehouseData:
    """What a warehouse is, as an import states it; ``stock`` maps SKU to quantity."""

    code: str
    name: str
    latitude: float
    longitude: float
    opens: time
    closes: time
    pickup_minutes: int
    stock: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class VanData:
    """A technician's van: whose (by dispatch's technician id and code), what is in it."""

    technician_id: int
    technician_code: str
    technician_name: str
    stock: Mapping[str, int]


def warehouses(session: Session) -> list[StockLocation]:
    """Every warehouse with its stock levels loaded, in creation order."""
    return list(
        session.scalars(
            select(StockLocation)
            .where(StockLocation.kind == LocationKind.WAREHOUSE)
            .options(selectinload(StockLocation.levels))
            .order_by(StockLocation.id)
        )
    )


def vans_of(session: Session, technician_ids: Iterable[int]) -> dict[int, StockLocation]:
    """The vans of these technicians (by technician id), stock levels loaded."""
    return {
        van.technician_id: van
        for van in session.scalars(
            select(StockLocation)
            .where(
                StockLocation.kind == LocationKind.VAN,
                StockLocation.technician_id.in_(list(technician_ids)),
            )
            .options(selectinload(StockLocation.levels))
        )
        if van.technician_id is not None
    }


def on_hand(location: StockLocation | None) -> dict[str, int]:
    """What a location holds, SKU to quantity in listing order; nothing for no location.

    Parts it has none of are left out. A technician added outside an import may have
    no van yet: that van holds nothing.
    """
    if location is None:
        return {}
    return {level.part.sku: level.on_hand for level in location.levels if level.on_hand}


def stock_locations(session: Session) -> list[StockLocation]:
    """Every stock location: warehouses first, then vans, each by code."""
    return list(
        session.scalars(
            select(StockLocation).order_by(StockLocation.kind.desc(), StockLocation.code)
        )
    )


def locations_by_code(session: Session, codes: Collection[str]) -> dict[str, StockLocation]:
    """The stock locations (warehouses and vans) that have one of these codes."""
    return {
        location.code: location
        for location in session.scalars(
            select(StockLocation).where(StockLocation.code.in_(sorted(codes)))
        )
    }


def parts(session: Session) -> list[Part]:
    """Every part, in creation order."""
    return list(session.scalars(select(Part).order_by(Part.id)))


def upsert_parts(session: Session, names: Mapping[str, str]) -> None:
    """Create or rename parts by SKU (``names`` maps SKU to name)."""
    existing = _parts_by_sku(session, names)
    for sku, name in names.items():
        part = existing.get(sku)
        if part is None:
            part = Part(sku=sku)
            session.add(part)
        part.name = name


def upsert_warehouses(
    session: Session, items: Sequence[WarehouseData], *, actor: Actor = SYSTEM
) -> None:
    """Create or update warehouses by code; each one's stock becomes exactly ``stock``.

    Every SKU must be a stored part (``upsert_parts`` first).
    """
    existing = {
        warehouse.code: warehouse
        for warehouse in session.scalars(
            select(StockLocation)
            .where(
                StockLocation.kind == LocationKind.WAREHOUSE,
                StockLocation.code.in_([item.code for item in items]),
            )
            .options(selectinload(StockLocation.levels))
        )
    }
    by_sku = _parts_by_sku(session, {sku for item in items for sku in item.stock})
    for item in items:
        warehouse = existing.get(item.code)
        if warehouse is None:
            warehouse = StockLocation(code=item.code, kind=LocationKind.WAREHOUSE)
            session.add(warehouse)
        warehouse.name = item.name
        warehouse.latitude = item.latitude
        warehouse.longitude = item.longitude
        warehouse.opens = item.opens
        warehouse.closes = item.closes
        warehouse.pickup_minutes = item.pickup_minutes
        _set_levels(session, warehouse, item.stock, by_sku, actor)


def upsert_vans(session: Session, items: Sequence[VanData], *, actor: Actor = SYSTEM) -> None:
    """Give each technician a van (``van_code``, ``van_name``) holding exactly ``stock``.

    Every SKU must be a stored part (``upsert_parts`` first).
    """
    vans = vans_of(session, (item.technician_id for item in items))
    by_sku = _parts_by_sku(session, {sku for item in items for sku in item.stock})
    for item in items:
        van = vans.get(item.technician_id)
        if van is None:
            van = StockLocation(kind=LocationKind.VAN, technician_id=item.technician_id)
            session.add(van)
        van.code = van_code(item.technician_code)
        van.name = van_name(item.technician_name)
        _set_levels(session, van, item.stock, by_sku, actor)


def _parts_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Part]:
    wanted = sorted(set(skus))
    return {part.sku: part for part in session.scalars(select(Part).where(Part.sku.in_(wanted)))}


def _set_levels(
    session: Session,
    location: StockLocation,
    quantities: Mapping[str, int],
    parts: Mapping[str, Part],
    actor: Actor,
) -> None:
    """Make the location's stock exactly ``quantities`` by ledger adjustments, and list
    its parts in their order; parts no longer listed go to zero."""
    session.flush()  # a new location gets its id
    targets = {level.part_id: 0 for level in location.levels}
    targets |= {parts[sku].id: quantity for sku, quantity in quantities.items()}
    set_on_hand(session, location.id, targets, actor=actor, reason="import")
    session.refresh(location, ["levels"])
    order = {parts[sku].id: position for position, sku in enumerate(quantities)}
    for level in location.levels:
        level.position = order.get(level.part_id, len(order) + level.position)


@dataclass(frozen=True, slots=True)
class HeldStock:
    """One part at one location: what is there and how much of it jobs hold."""

    sku: str
    name: str
    unit: str
    on_hand: int
    reserved: int


def van_stock(
    session: Session, technician_id: int
) -> tuple[StockLocation, list[HeldStock]] | None:
    """The technician's van and what it carries, by SKU; None when they have no van."""
    van = vans_of(session, [technician_id]).get(technician_id)
    if van is None:
        return None
    levels = sorted(van.levels, key=lambda level: level.part.sku)
    return van, [
        HeldStock(level.part.sku, level.part.name, level.part.unit, level.on_hand, level.reserved)
        for level in levels
        if level.on_hand or level.reserved
    ]


@dataclass(frozen=True, slots=True)
class StockRow:
    """One part's balance at one location, with its reorder rule if it has one."""

    location: str
    sku: str
    name: str
    unit: str
    on_hand: int
    reserved: int
    reorder_point: int | None
    reorder_quantity: int | None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def low(self) -> bool:
        """At or below the reorder point."""
        return self.reorder_point is not None and self.on_hand <= self.reorder_point


def stock_rows(
    session: Session,
    *,
    location_id: int | None = None,
    sku: str | None = None,
    part_text: str | None = None,
    below_reorder: bool = False,
    after: tuple[str, str] | None = None,
    limit: int | None = None,
) -> list[StockRow]:
    """Balances by location and part, in (location code, SKU) order.

    A location's parts are those it holds and those it has a reorder rule for: a rule
    for a part never held has no balance row, yet belongs here, as the emptiest stock
    of all. Filters: one location, one SKU, ``part_text`` anywhere in the SKU or name
    (any case), at or below the reorder point; ``after`` a (location code, SKU) pair,
    for keyset paging.
    """
    pairs = union(
        select(StockLevel.location_id, StockLevel.part_id),
        select(ReorderRule.location_id, ReorderRule.part_id),
    ).subquery()
    on_hand = func.coalesce(StockLevel.on_hand, 0)
    query = (
        select(StockLocation.code, Part, StockLevel, ReorderRule)
        .select_from(pairs)
        .join(StockLocation, StockLocation.id == pairs.c.location_id)
        .join(Part, Part.id == pairs.c.part_id)
        .outerjoin(
            StockLevel,
            (StockLevel.location_id == pairs.c.location_id)
            & (StockLevel.part_id == pairs.c.part_id),
        )
        .outerjoin(
            ReorderRule,
            (ReorderRule.location_id == pairs.c.location_id)
            & (ReorderRule.part_id == pairs.c.part_id),
        )
        .where((on_hand > 0) | ReorderRule.part_id.is_not(None))
        .order_by(StockLocation.code, Part.sku)
    )
    if location_id is not None:
        query = query.where(StockLocation.id == location_id)
    if sku is not None:
        query = query.where(Part.sku == sku)
    if part_text:
        query = query.where(
            Part.sku.icontains(part_text, autoescape=True)
            | Part.name.icontains(part_text, autoescape=True)
        )
    if below_reorder:
        query = query.where(on_hand <= ReorderRule.reorder_point)
    if after is not None:
        code, last_sku = after
        query = query.where(
            (StockLocation.code > code) | ((StockLocation.code == code) & (Part.sku > last_sku))
        )
    if limit is not None:
        query = query.limit(limit)
    return [
        StockRow(
            location=code,
            sku=part.sku,
            name=part.name,
            unit=part.unit,
            on_hand=level.on_hand if level else 0,
            reserved=level.reserved if level else 0,
            reorder_point=rule.reorder_point if rule else None,
            reorder_quantity=rule.reorder_quantity if rule else None,
        )
        for code, part, level, rule in session.execute(query)
    ]

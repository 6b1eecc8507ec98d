"""inventory.service: the only writer of parts, warehouses, vans and stock levels.

Every test runs on SQLite and on PostgreSQL (see the ``session`` fixture).
"""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory import service
from inventory.models import LocationKind, Movement, MovementKind, Part
from inventory.service import VanData, WarehouseData

PARTS = {"FLT-2020": "Air filter 20x20", "BELT-WM": "Washer belt", "SEAL-KIT": "Seal kit"}


def central(**stock: int) -> WarehouseData:
    """The Oslo warehouse holding ``stock`` (SKU with ``_`` for ``-``)."""
    return WarehouseData(
        code="WH-1",
        name="Central",
        latitude=59.91,
        longitude=10.75,
        opens=time(7),
        closes=time(17),
        pickup_minutes=10,
        stock={sku.replace("_", "-"): quantity for sku, quantity in stock.items()},
    )


def stock_of(session: Session, code: str) -> list[tuple[str, int]]:
    """(SKU, quantity) at the location ``code``, in listing order, parts it has none of left out."""
    (location,) = service.locations_by_code(session, {code}).values()
    return list(service.on_hand(location).items())


def test_upsert_parts_creates_and_renames_by_sku(session: Session) -> None:
    """A known SKU is renamed in place, a new one is added; nothing else changes."""
    service.upsert_parts(session, PARTS)
    session.flush()
    ids = {part.sku: part.id for part in service.parts(session)}

    service.upsert_parts(session, {"BELT-WM": "Washer belt (long)", "GAS-VLV-15": "Gas valve"})
    session.flush()

    parts = {part.sku: (part.id, part.name) for part in service.parts(session)}
    assert parts == {
        "FLT-2020": (ids["FLT-2020"], "Air filter 20x20"),
        "BELT-WM": (ids["BELT-WM"], "Washer belt (long)"),
        "SEAL-KIT": (ids["SEAL-KIT"], "Seal kit"),
        "GAS-VLV-15": (parts["GAS-VLV-15"][0], "Gas valve"),
    }


def test_warehouse_stock_becomes_exactly_what_is_given(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A second upsert leaves the warehouse with the new levels, in the new order, none else."""
    service.upsert_parts(session, PARTS)
    service.upsert_warehouses(session, [central(FLT_2020=40, BELT_WM=5)])
    session.commit()

    service.upsert_warehouses(session, [central(SEAL_KIT=2, FLT_2020=12)])
    session.commit()

    with sessions() as fresh:
        assert stock_of(fresh, "WH-1") == [("SEAL-KIT", 2), ("FLT-2020", 12)]
        (warehouse,) = service.warehouses(fresh)
        assert (warehouse.kind, warehouse.opens, warehouse.pickup_minutes) == (
            LocationKind.WAREHOUSE,
            time(7),
            10,
        )


def test_a_changed_quantity_is_posted_to_the_ledger_as_a_difference(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """An import moves stock by ledger adjustments of the difference, nothing for no change."""
    service.upsert_parts(session, PARTS)
    service.upsert_warehouses(session, [central(FLT_2020=40, BELT_WM=3)])
    session.commit()

    service.upsert_warehouses(session, [central(FLT_2020=38, BELT_WM=3)])
    session.commit()

    with sessions() as fresh:
        rows = fresh.execute(
            select(Part.sku, Movement.kind, Movement.on_hand_change, Movement.reason)
            .join(Part, Part.id == Movement.part_id)
            .order_by(Movement.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("FLT-2020", MovementKind.ADJUST, 40, "import"),
        ("BELT-WM", MovementKind.ADJUST, 3, "import"),
        ("FLT-2020", MovementKind.ADJUST, -2, "import"),
    ]


def test_vans_are_named_after_their_technician_and_hold_their_stock(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Each technician gets one van coded VAN-<code>; upserting again renames and restocks it."""
    service.upsert_parts(session, PARTS)
    service.upsert_vans(
        session,
        [VanData(7, "T-01", "Sofia Chen", {"FLT-2020": 2}), VanData(8, "T-02", "Ola", {})],
    )
    session.commit()

    service.upsert_vans(session, [VanData(7, "T-01", "Sofia Berg", {"BELT-WM": 1})])
    session.commit()

    with sessions() as fresh:
        vans = service.vans_of(fresh, [7, 8])
        assert {t: (v.code, v.name, v.kind) for t, v in vans.items()} == {
            7: ("VAN-T-01", "Van of Sofia Berg", LocationKind.VAN),
            8: ("VAN-T-02", "Van of Ola", LocationKind.VAN),
        }
        assert stock_of(fresh, "VAN-T-01") == [("BELT-WM", 1)]
        assert fresh.scalars(select(Part.sku).order_by(Part.sku)).all() == sorted(PARTS)

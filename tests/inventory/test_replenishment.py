"""inventory.replenishment: reorder suggestions that count the next days' reservations,
and the rules they follow. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory import ledger, reservations, service
from inventory.models import LocationKind, ReorderRule
from inventory.replenishment import (
    Suggestion,
    reorder_suggestions,
    set_reorder_rule,
    suggestions_csv,
)
from inventory.reservations import Pickup, VanRoute, Visit
from inventory.service import VanData, WarehouseData

DAY = date(2026, 11, 24)
PARTS = {"FLT-2020": "Air filter 20x20", "BELT-WM": "Washer belt"}
T01, T02 = 7, 8
WAREHOUSE, VAN = LocationKind.WAREHOUSE, LocationKind.VAN


def warehouse(code: str, stock: dict[str, int]) -> WarehouseData:
    return WarehouseData(code, f"Depot {code}", 59.91, 10.75, time(7), time(17), 10, stock)


@pytest.fixture
def stocked(session: Session) -> Session:
    """Two warehouses and two vans with reorder rules (point, quantity) on some parts."""
    service.upsert_parts(session, PARTS)
    service.upsert_warehouses(
        session,
        [
            warehouse("WH-1", {"FLT-2020": 10, "BELT-WM": 2}),
            warehouse("WH-2", {"FLT-2020": 4, "BELT-WM": 6}),
        ],
    )
    service.upsert_vans(
        session,
        [
            VanData(T01, "T-01", "Sofia", {"FLT-2020": 1}),
            VanData(T02, "T-02", "Ola", {"FLT-2020": 5}),
        ],
    )
    for code, sku, point, quantity in [
        ("WH-1", "FLT-2020", 5, 10),
        ("WH-1", "BELT-WM", 2, 4),
        ("WH-2", "BELT-WM", 3, 5),
        ("VAN-T-01", "FLT-2020", 2, 2),
        ("VAN-T-02", "FLT-2020", 1, 2),
    ]:
        set_reorder_rule(session, code, sku, point=point, quantity=quantity)
    session.commit()
    return session


def suggestion(
    location: str,
    kind: LocationKind,
    sku: str,
    on_hand: int,
    ahead: int,
    point: int,
    quantity: int,
    suggested: int,
    source: str | None = None,
) -> Suggestion:
    return Suggestion(
        location=location,
        kind=kind,
        sku=sku,
        name=PARTS[sku],
        on_hand=on_hand,
        reserved_ahead=ahead,
        projected=on_hand - ahead,
        reorder_point=point,
        reorder_quantity=quantity,
        suggested=suggested,
        source=source,
    )


def test_stock_at_or_below_its_point_is_topped_up_above_it(stocked: Session) -> None:
    """WH-1's belts sit at the point; van T-01 is below it and is sent filters from WH-1,
    the warehouse with the most. The others are above their points."""
    assert reorder_suggestions(stocked, today=DAY) == [
        suggestion("WH-1", WAREHOUSE, "BELT-WM", 2, 0, 2, 4, 4),
        suggestion("VAN-T-01", VAN, "FLT-2020", 1, 0, 2, 2, 2, "WH-1"),
    ]


def test_the_next_days_reservations_count_what_the_plan_wants(stocked: Session) -> None:
    """Tomorrow's plan takes 8 filters from WH-1 and all of T-01's, 4 of T-02's, and wants 3
    belts from WH-1, which holds 2: all of it counts, and the van's filters now come from
    WH-2, which has more left available than WH-1."""
    routes = [
        VanRoute(T01, [Pickup("WH-1", {"FLT-2020": 8}), Visit(101, {"FLT-2020": 9})]),
        VanRoute(
            T02,
            [
                Pickup("WH-1", {"BELT-WM": 3}),
                Visit(201, {"FLT-2020": 4}),
                Visit(202, {"BELT-WM": 3}),
            ],
        ),
    ]
    short = reservations.reserve_day(
        stocked, DAY + timedelta(days=1), routes, plan_id=1, actor=ledger.SYSTEM, reason="plan"
    )
    assert short == {202: {"BELT-WM": 1}}

    assert reorder_suggestions(stocked, today=DAY) == [
        suggestion("WH-1", WAREHOUSE, "BELT-WM", 2, 3, 2, 4, 4),
        suggestion("WH-1", WAREHOUSE, "FLT-2020", 10, 8, 5, 10, 10),
        suggestion("VAN-T-01", VAN, "FLT-2020", 1, 1, 2, 2, 4, "WH-2"),
        suggestion("VAN-T-02", VAN, "FLT-2020", 5, 4, 1, 2, 2, "WH-2"),
    ]


def test_only_reservations_from_today_to_the_horizon_count(stocked: Session) -> None:
    """Belts held at WH-2 for ten days ahead count with a ten-day horizon, not with seven;
    yesterday's hold never counts."""
    for job_id, days in [(301, 10), (302, -1)]:
        reservations.reserve(
            stocked,
            job_id=job_id,
            day=DAY + timedelta(days=days),
            location_code="WH-2",
            van_code="VAN-T-01",
            sku="BELT-WM",
            quantity=3,
            actor=ledger.SYSTEM,
            reason="held",
        )

    week = reorder_suggestions(stocked, today=DAY)
    fortnight = reorder_suggestions(stocked, today=DAY, horizon_days=10)

    assert [s.location for s in week] == ["WH-1", "VAN-T-01"]
    assert fortnight[1] == suggestion("WH-2", WAREHOUSE, "BELT-WM", 6, 3, 3, 5, 5)
    assert len(fortnight) == 3
    with pytest.raises(ledger.InvalidMovement, match="horizon_days"):
        reorder_suggestions(stocked, today=DAY, horizon_days=-1)


def test_a_van_no_warehouse_can_supply_names_no_source(stocked: Session) -> None:
    ledger.count(stocked, "WH-1", [("FLT-2020", 0)], actor=ledger.SYSTEM, reason="cycle count")
    ledger.count(stocked, "WH-2", [("FLT-2020", 0)], actor=ledger.SYSTEM, reason="cycle count")

    (*_, van) = reorder_suggestions(stocked, today=DAY)

    assert (van.location, van.sku, van.source) == ("VAN-T-01", "FLT-2020", None)


def test_set_reorder_rule_changes_an_existing_rule(stocked: Session) -> None:
    set_reorder_rule(stocked, "WH-1", "BELT-WM", point=1, quantity=6)
    stocked.commit()

    assert reorder_suggestions(stocked, today=DAY)[0].location == "VAN-T-01"
    assert stocked.scalar(select(func.count()).select_from(ReorderRule)) == 5
    set_reorder_rule(stocked, "WH-1", "BELT-WM", point=2, quantity=6)
    assert reorder_suggestions(stocked, today=DAY)[0].suggested == 6


@pytest.mark.parametrize(
    ("sku", "point", "quantity", "problems"),
    [
        ("BELT-WM", -1, 4, ["point: -1 is out of range (0 to 1000000)"]),
        ("BELT-WM", 2, 0, ["quantity: 0 is out of range (1 to 1000000)"]),
        ("BELT-WM", 2.5, 4, ["point: 2.5 is not a whole number"]),
        ("BELT-WM", 2, True, ["quantity: True is not a whole number"]),
        (
            "NOPE",
            2,
            "4",
            ["sku: unknown SKU 'NOPE'", "quantity: '4' is not a whole number"],
        ),
    ],
)
def test_set_reorder_rule_refuses_bad_input_naming_each_field(
    stocked: Session, sku: str, point: object, quantity: object, problems: list[str]
) -> None:
    with pytest.raises(ledger.InvalidMovement) as refused:
        set_reorder_rule(stocked, "WH-2", sku, point=point, quantity=quantity)  # type: ignore[arg-type]

    assert refused.value.problems == problems
    rule = stocked.scalars(select(ReorderRule).where(ReorderRule.reorder_quantity == 5)).one()
    assert (rule.reorder_point, rule.part.sku) == (3, "BELT-WM")


def test_set_reorder_rule_for_an_unknown_location(stocked: Session) -> None:
    with pytest.raises(ledger.UnknownLocation, match="WH-9"):
        set_reorder_rule(stocked, "WH-9", "BELT-WM", point=1, quantity=1)


def test_suggestions_csv_leaves_the_source_of_a_supplier_order_empty(stocked: Session) -> None:
    assert suggestions_csv(reorder_suggestions(stocked, today=DAY)).splitlines() == [
        (
            "location,kind,sku,name,on_hand,reserved_ahead,projected,reorder_point,"
            "reorder_quantity,suggested,source"
        ),
        "WH-1,warehouse,BELT-WM,Washer belt,2,0,2,2,4,4,",
        "VAN-T-01,van,FLT-2020,Air filter 20x20,1,0,1,2,2,2,WH-1",
    ]

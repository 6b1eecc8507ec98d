"""inventory.picklists: what vans load where, read from the plan's reservations, and the
transfers that confirm it.

Reservations are made by ``reservations.reserve_day`` from hand-built routes, as
publishing a plan makes them. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from inventory import ledger, reservations, service
from inventory.ledger import Actor
from inventory.models import Movement, MovementKind, Part, Reservation, StockLevel, StockLocation
from inventory.picklists import PickLine, confirm_pick_list, pick_list, picklist_csv
from inventory.reservations import Pickup, VanRoute, Visit
from inventory.service import VanData, WarehouseData
from tests.helpers import assert_books_agree, race

DAY = date(2026, 11, 24)
CLERK = Actor(3, "wes")
PARTS = {"FLT-2020": "Air filter 20x20", "BELT-WM": "Washer belt", "SEAL-KIT": "Seal kit"}
T01, T02 = 7, 8


def warehouse(code: str, name: str, stock: dict[str, int]) -> WarehouseData:
    return WarehouseData(code, name, 59.91, 10.75, time(7), time(17), 10, stock)


#: Van T-01 holds one filter of the two job 101 needs; everything else comes from the
#: warehouses. WH-2 has 3 seal kits for the 4 the routes want: T-02's route, reserved
#: after T-01's, is one short.
ROUTES = [
    VanRoute(
        T01,
        [
            Pickup("WH-2", {"SEAL-KIT": 1}),
            Pickup("WH-1", {"FLT-2020": 2, "BELT-WM": 1}),
            Visit(101, {"FLT-2020": 2, "BELT-WM": 1, "SEAL-KIT": 1}),
            Visit(102, {"FLT-2020": 1}),
        ],
    ),
    VanRoute(
        T02,
        [
            Pickup("WH-2", {"BELT-WM": 2, "SEAL-KIT": 3}),
            Visit(201, {"SEAL-KIT": 3}),
            Visit(202, {"BELT-WM": 2}),
        ],
    ),
]


@pytest.fixture
def planned(session: Session) -> Session:
    """Two warehouses, two vans, and the day's reservations from ``ROUTES``, committed."""
    service.upsert_parts(session, PARTS)
    service.upsert_warehouses(
        session,
        [
            warehouse("WH-1", "North depot", {"FLT-2020": 10, "BELT-WM": 5, "SEAL-KIT": 1}),
            warehouse("WH-2", "South depot", {"BELT-WM": 4, "SEAL-KIT": 3}),
        ],
    )
    service.upsert_vans(
        session,
        [VanData(T01, "T-01", "Sofia Chen", {"FLT-2020": 1}), VanData(T02, "T-02", "Ola", {})],
    )
    reservations.reserve_day(session, DAY, ROUTES, plan_id=1, actor=ledger.SYSTEM, reason="plan")
    session.commit()
    return session


def pick(
    van: str,
    warehouse: str,
    sku: str,
    quantity: int,
    short: int,
    jobs: tuple[int, ...],
    first: int,
) -> PickLine:
    """A pick line of the fixture's vans, warehouses and parts."""
    names = {"WH-1": "North depot", "WH-2": "South depot"}
    drivers = {"VAN-T-01": ("Van of Sofia Chen", T01), "VAN-T-02": ("Van of Ola", T02)}
    van_name, technician = drivers[van]
    return PickLine(
        van=van,
        van_name=van_name,
        technician_id=technician,
        warehouse=warehouse,
        warehouse_name=names[warehouse],
        sku=sku,
        name=PARTS[sku],
        unit="each",
        quantity=quantity,
        short=short,
        job_ids=jobs,
        sequence=first,
    )


#: T-01 calls at WH-2 (stop 0) before WH-1 (stop 1); T-02 collects everything at stop 0.
T01_LIST = [
    pick("VAN-T-01", "WH-2", "SEAL-KIT", 1, 0, (101,), 0),
    pick("VAN-T-01", "WH-1", "BELT-WM", 1, 0, (101,), 1),
    pick("VAN-T-01", "WH-1", "FLT-2020", 2, 0, (101, 102), 1),
]
T02_LIST = [
    pick("VAN-T-02", "WH-2", "BELT-WM", 2, 0, (202,), 0),
    pick("VAN-T-02", "WH-2", "SEAL-KIT", 2, 1, (201,), 0),
]


def levels(session: Session) -> dict[tuple[str, str], tuple[int, int]]:
    """(location code, SKU) -> (on hand, reserved), balances with anything in them."""
    rows = session.execute(
        select(StockLocation.code, Part.sku, StockLevel.on_hand, StockLevel.reserved)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .join(Part, Part.id == StockLevel.part_id)
        .where(StockLevel.on_hand > 0)
    )
    return {(code, sku): (on_hand, reserved) for code, sku, on_hand, reserved in rows}


def held(session: Session) -> dict[tuple[int, str, str], tuple[int, int]]:
    """(job, location code, SKU) -> (wanted, reserved) of every reservation line."""
    rows = session.execute(
        select(
            Reservation.job_id,
            StockLocation.code,
            Part.sku,
            Reservation.wanted,
            Reservation.reserved,
        )
        .join(StockLocation, StockLocation.id == Reservation.location_id)
        .join(Part, Part.id == Reservation.part_id)
    )
    return {(job, code, sku): (wanted, reserved) for job, code, sku, wanted, reserved in rows}


def test_pick_list_is_what_each_van_lacks_by_warehouse_in_route_order(planned: Session) -> None:
    """The van's own filter is not picked; the rest is, per van, warehouse and part, in the
    order of the route's pick-ups (T-01's WH-2 before its WH-1), jobs in route order."""
    assert pick_list(planned, DAY) == T01_LIST + T02_LIST


def test_pick_list_of_one_van_and_of_an_empty_day(planned: Session) -> None:
    assert pick_list(planned, DAY, van_code="VAN-T-02") == T02_LIST
    assert pick_list(planned, date(2026, 11, 25)) == []


def test_a_van_that_holds_everything_has_nothing_to_pick(session: Session) -> None:
    service.upsert_parts(session, PARTS)
    service.upsert_warehouses(session, [warehouse("WH-1", "North depot", {"FLT-2020": 5})])
    service.upsert_vans(session, [VanData(T01, "T-01", "Sofia Chen", {"FLT-2020": 2})])
    route = VanRoute(T01, [Pickup("WH-1", {"FLT-2020": 1}), Visit(101, {"FLT-2020": 2})])
    reservations.reserve_day(session, DAY, [route], plan_id=1, actor=CLERK, reason="plan")

    assert pick_list(session, DAY) == []
    assert confirm_pick_list(session, DAY, "VAN-T-01", actor=CLERK) == []


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        ("VAN-T-99", ledger.UnknownLocation, "no stock location 'VAN-T-99'"),
        ("WH-1", ledger.InvalidMovement, "WH-1 is not a van"),
    ],
)
def test_a_van_code_that_is_no_van_is_refused(
    planned: Session, code: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        pick_list(planned, DAY, van_code=code)
    with pytest.raises(error, match=message):
        confirm_pick_list(planned, DAY, code, actor=CLERK)
    assert levels(planned)[("WH-1", "FLT-2020")] == (10, 2)


def test_confirm_moves_the_held_units_into_the_van_in_one_batch(
    planned: Session, sessions: sessionmaker[Session]
) -> None:
    """Per warehouse line: release there, transfer out and in, reserve in the van."""
    before = levels(planned)

    movements = confirm_pick_list(planned, DAY, "VAN-T-01", actor=CLERK)
    planned.commit()

    codes = {loc.id: loc.code for loc in planned.scalars(select(StockLocation))}
    skus = {part.id: part.sku for part in planned.scalars(select(Part))}
    rows = [
        (
            m.kind,
            codes[m.location_id],
            skus[m.part_id],
            m.on_hand_change,
            m.reserved_change,
            m.job_id,
            codes.get(m.counterpart_id or 0),
        )
        for m in movements
    ]
    quads = [rows[i : i + 4] for i in range(0, len(rows), 4)]
    moved = sorted((quad[0][1], quad[0][2], quad[0][5], -quad[0][4]) for quad in quads)
    assert moved == [
        ("WH-1", "BELT-WM", 101, 1),
        ("WH-1", "FLT-2020", 101, 1),
        ("WH-1", "FLT-2020", 102, 1),
        ("WH-2", "SEAL-KIT", 101, 1),
    ]
    for quad in quads:
        source, sku, job, units = quad[0][1], quad[0][2], quad[0][5], -quad[0][4]
        assert quad == [
            (MovementKind.RELEASE, source, sku, 0, -units, job, None),
            (MovementKind.TRANSFER_OUT, source, sku, -units, 0, job, "VAN-T-01"),
            (MovementKind.TRANSFER_IN, "VAN-T-01", sku, units, 0, job, source),
            (MovementKind.RESERVE, "VAN-T-01", sku, 0, units, job, None),
        ]
    assert {m.batch for m in movements} == {movements[0].batch}
    assert {m.actor for m in movements} == {"wes"}

    with sessions() as fresh:
        assert pick_list(fresh, DAY, van_code="VAN-T-01") == []
        assert pick_list(fresh, DAY) == T02_LIST
        after = levels(fresh)
        assert after == before | {
            ("WH-1", "FLT-2020"): (8, 0),
            ("WH-1", "BELT-WM"): (4, 0),
            ("WH-2", "SEAL-KIT"): (2, 2),
            ("VAN-T-01", "FLT-2020"): (3, 3),
            ("VAN-T-01", "BELT-WM"): (1, 1),
            ("VAN-T-01", "SEAL-KIT"): (1, 1),
        }
        lines = held(fresh)
        assert {key: value for key, value in lines.items() if key[0] < 200} == {
            (101, "VAN-T-01", "FLT-2020"): (2, 2),  # the van's own one, merged with the loaded one
            (101, "VAN-T-01", "BELT-WM"): (1, 1),
            (101, "VAN-T-01", "SEAL-KIT"): (1, 1),
            (102, "VAN-T-01", "FLT-2020"): (1, 1),
        }
        assert_books_agree(fresh)


def test_confirming_again_posts_nothing(planned: Session) -> None:
    assert confirm_pick_list(planned, DAY, "VAN-T-01", actor=CLERK)
    planned.commit()
    rows = planned.scalar(select(func.count()).select_from(Movement))
    balances = levels(planned)

    assert confirm_pick_list(planned, DAY, "VAN-T-01", actor=CLERK) == []
    planned.commit()

    assert planned.scalar(select(func.count()).select_from(Movement)) == rows
    assert levels(planned) == balances


def test_confirm_at_one_warehouse_leaves_the_others_to_pick(planned: Session) -> None:
    movements = confirm_pick_list(planned, DAY, "VAN-T-01", warehouse_code="WH-2", actor=CLERK)
    planned.commit()

    assert [m.kind for m in movements] == [
        MovementKind.RELEASE,
        MovementKind.TRANSFER_OUT,
        MovementKind.TRANSFER_IN,
        MovementKind.RESERVE,
    ]
    assert pick_list(planned, DAY, van_code="VAN-T-01") == T01_LIST[1:]
    assert levels(planned)[("VAN-T-01", "SEAL-KIT")] == (1, 1)
    with pytest.raises(ledger.InvalidMovement, match="VAN-T-02 is not a warehouse"):
        confirm_pick_list(planned, DAY, "VAN-T-01", warehouse_code="VAN-T-02", actor=CLERK)


def test_a_short_line_stays_on_the_list_until_stock_arrives(planned: Session) -> None:
    """Only held units are loaded; the one seal kit WH-2 lacked is picked once received."""
    confirm_pick_list(planned, DAY, "VAN-T-02", actor=CLERK)
    planned.commit()

    assert pick_list(planned, DAY, van_code="VAN-T-02") == [
        pick("VAN-T-02", "WH-2", "SEAL-KIT", 0, 1, (201,), 0)
    ]
    assert held(planned)[201, "WH-2", "SEAL-KIT"] == (1, 0)
    assert held(planned)[201, "VAN-T-02", "SEAL-KIT"] == (2, 2)
    assert confirm_pick_list(planned, DAY, "VAN-T-02", actor=CLERK) == []

    ledger.receive(planned, "WH-2", [("SEAL-KIT", 1)], actor=CLERK, reason="delivery")
    assert pick_list(planned, DAY, van_code="VAN-T-02") == [
        pick("VAN-T-02", "WH-2", "SEAL-KIT", 1, 0, (201,), 0)
    ]
    assert len(confirm_pick_list(planned, DAY, "VAN-T-02", actor=CLERK)) == 4
    planned.commit()

    assert pick_list(planned, DAY, van_code="VAN-T-02") == []
    assert (201, "WH-2", "SEAL-KIT") not in held(planned)
    assert held(planned)[201, "VAN-T-02", "SEAL-KIT"] == (3, 3)
    assert_books_agree(planned)


def test_picklist_csv_has_a_row_per_line_with_jobs_in_route_order(planned: Session) -> None:
    lines = pick_list(planned, DAY)

    assert picklist_csv(lines[1:3]).splitlines() == [
        "van,warehouse,sku,name,unit,quantity,short,jobs",
        "VAN-T-01,WH-1,BELT-WM,Washer belt,each,1,0,101",
        "VAN-T-01,WH-1,FLT-2020,Air filter 20x20,each,2,0,101;102",
    ]
    assert picklist_csv(lines[2:3], {101: "J-1", 102: "J-2, urgent"}).splitlines()[1] == (
        'VAN-T-01,WH-1,FLT-2020,Air filter 20x20,each,2,0,"J-1;J-2, urgent"'
    )


@pytest.mark.postgresql_only
def test_racing_confirms_load_the_van_once(
    planned: Session, sessions: sessionmaker[Session]
) -> None:
    """Four clerks confirm T-02's list at once: one posts the transfers, the others nothing
    (its seal-kit line, one short, stays behind: the others must see it emptied)."""
    posted = race(
        sessions,
        4,
        lambda session: len(confirm_pick_list(session, DAY, "VAN-T-02", actor=CLERK)),
        hold_s=0.05,
    )

    assert sorted(posted) == [0, 0, 0, 8]
    with sessions() as fresh:
        assert levels(fresh)[("VAN-T-02", "SEAL-KIT")] == (2, 2)
        assert levels(fresh)[("WH-2", "SEAL-KIT")] == (1, 1)  # T-01's
        assert pick_list(fresh, DAY, van_code="VAN-T-02") == [
            pick("VAN-T-02", "WH-2", "SEAL-KIT", 0, 1, (201,), 0)
        ]
        assert_books_agree(fresh)

"""inventory.ledger and inventory.field: movements post rows and balances together; bad
input writes nothing. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from inventory import field, ledger, reservations, service
from inventory.ledger import Actor, InsufficientStock, InvalidMovement, UnknownLocation
from inventory.models import Movement, MovementKind, Reservation, StockLevel
from inventory.service import VanData, WarehouseData
from tests.helpers import assert_books_agree

DAY = date(2026, 11, 24)
NEXT_DAY = date(2026, 11, 25)
CLERK = Actor(3, "wes")
TECH = 7  # the technician whose van is VAN-T-01
JOB = 501


@pytest.fixture
def stocked(session: Session) -> Session:
    """WH-1 with 5 filters and 2 belts, VAN-T-01 with 1 filter, VAN-T-02 empty; committed."""
    service.upsert_parts(session, {"FLT-2020": "Air filter", "BELT-WM": "Belt", "SEAL": "Seal"})
    service.upsert_warehouses(
        session,
        [
            WarehouseData(
                "WH-1", "North", 59.9, 10.7, time(7), time(17), 10, {"FLT-2020": 5, "BELT-WM": 2}
            )
        ],
    )
    service.upsert_vans(
        session,
        [VanData(TECH, "T-01", "Sofia", {"FLT-2020": 1}), VanData(8, "T-02", "Ola", {})],
    )
    session.commit()
    return session


def balance(session: Session, code: str, sku: str) -> tuple[int, int]:
    """(on hand, reserved) of a part at a location; (0, 0) when it has no balance."""
    location = ledger.location(session, code)
    for level in session.scalars(select(StockLevel).where(StockLevel.location_id == location.id)):
        if level.part.sku == sku:
            session.refresh(level)
            return level.on_hand, level.reserved
    return 0, 0


def hold(session: Session, location: str, quantity: int, *, reason: str = "plan") -> Reservation:
    """Hold filters at ``location`` for job ``JOB`` on ``DAY``, for van VAN-T-01."""
    return reservations.reserve(
        session,
        job_id=JOB,
        day=DAY,
        location_code=location,
        van_code="VAN-T-01",
        sku="FLT-2020",
        quantity=quantity,
        actor=CLERK,
        reason=reason,
    )


def rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Movement)) or 0


def test_a_receipt_and_a_transfer_post_rows_and_move_balances(stocked: Session) -> None:
    received = ledger.receive(stocked, "WH-1", [("SEAL", 4)], actor=CLERK, reason="PO 17")
    moved = ledger.transfer(
        stocked, "WH-1", "VAN-T-02", [("SEAL", 3), ("FLT-2020", 1)], actor=CLERK, reason="load"
    )
    stocked.commit()

    assert [(m.kind, m.on_hand_change, m.actor, m.reason) for m in received] == [
        (MovementKind.RECEIVE, 4, "wes", "PO 17")
    ]
    assert [(m.kind, m.part.sku, m.on_hand_change) for m in moved] == [
        (MovementKind.TRANSFER_OUT, "SEAL", -3),
        (MovementKind.TRANSFER_IN, "SEAL", 3),
        (MovementKind.TRANSFER_OUT, "FLT-2020", -1),
        (MovementKind.TRANSFER_IN, "FLT-2020", 1),
    ]
    assert len({m.batch for m in moved}) == 1
    assert balance(stocked, "WH-1", "SEAL") == (1, 0)
    assert balance(stocked, "VAN-T-02", "SEAL") == (3, 0)
    assert balance(stocked, "WH-1", "FLT-2020") == (4, 0)


def test_a_count_posts_the_difference_and_nothing_for_a_match(stocked: Session) -> None:
    posted = ledger.count(
        stocked, "WH-1", [("FLT-2020", 3), ("BELT-WM", 2)], actor=CLERK, reason="cycle count"
    )
    assert [(m.part.sku, m.kind, m.on_hand_change) for m in posted] == [
        ("FLT-2020", MovementKind.ADJUST, -2)
    ]
    assert balance(stocked, "WH-1", "FLT-2020") == (3, 0)


def test_stock_held_for_a_job_cannot_be_transferred(stocked: Session) -> None:
    hold(stocked, "WH-1", 4)
    stocked.commit()
    before = rows(stocked)
    with pytest.raises(InsufficientStock) as refused:
        ledger.transfer(stocked, "WH-1", "VAN-T-02", [("FLT-2020", 2)], actor=CLERK, reason="x")
    stocked.rollback()
    assert "WH-1 has 1 of FLT-2020 available, 2 needed" in str(refused.value)
    assert rows(stocked) == before
    assert balance(stocked, "WH-1", "FLT-2020") == (5, 4)


BAD_INPUT: list[tuple[str, Callable[[Session], Any], str]] = [
    (
        "unknown SKU",
        lambda s: ledger.receive(s, "WH-1", [("NOPE", 1)], actor=CLERK, reason="r"),
        "unknown SKU 'NOPE'",
    ),
    (
        "unknown location",
        lambda s: ledger.receive(s, "WH-9", [("SEAL", 1)], actor=CLERK, reason="r"),
        "no stock location 'WH-9'",
    ),
    (
        "zero",
        lambda s: ledger.receive(s, "WH-1", [("SEAL", 0)], actor=CLERK, reason="r"),
        "out of range",
    ),
    (
        "negative",
        lambda s: ledger.transfer(s, "WH-1", "VAN-T-01", [("SEAL", -2)], actor=CLERK, reason="r"),
        "out of range",
    ),
    (
        "fractional",
        lambda s: ledger.receive(s, "WH-1", [("SEAL", 1.5)], actor=CLERK, reason="r"),  # type: ignore[list-item]
        "not a whole number of each",
    ),
    (
        "boolean",
        lambda s: ledger.receive(s, "WH-1", [("SEAL", True)], actor=CLERK, reason="r"),
        "not a whole number",
    ),
    (
        "listed twice",
        lambda s: ledger.receive(s, "WH-1", [("SEAL", 1), ("SEAL", 2)], actor=CLERK, reason="r"),
        "SEAL is listed twice",
    ),
    (
        "no lines",
        lambda s: ledger.receive(s, "WH-1", [], actor=CLERK, reason="r"),
        "at least one line",
    ),
    (
        "blank reason",
        lambda s: ledger.receive(s, "WH-1", [("SEAL", 1)], actor=CLERK, reason="  "),
        "give a reason",
    ),
    (
        "same location",
        lambda s: ledger.transfer(s, "WH-1", "WH-1", [("SEAL", 1)], actor=CLERK, reason="r"),
        "same location",
    ),
    (
        "more than available",
        lambda s: ledger.transfer(
            s, "WH-1", "VAN-T-01", [("BELT-WM", 3)], actor=CLERK, reason="r"
        ),
        "WH-1 has 2 of BELT-WM available, 3 needed",
    ),
    (
        "receipt into a van",
        lambda s: ledger.receive(s, "VAN-T-01", [("SEAL", 1)], actor=CLERK, reason="r"),
        "is a van",
    ),
    (
        "return of more than used",
        lambda s: field.return_unused(s, TECH, JOB, [("FLT-2020", 1)], actor=CLERK),
        "0 of FLT-2020 are recorded used",
    ),
    (
        "negative count",
        lambda s: ledger.count(s, "WH-1", [("FLT-2020", -1)], actor=CLERK, reason="r"),
        "out of range",
    ),
    (
        "blank reason of a hold",
        lambda s: hold(s, "WH-1", 1, reason=""),
        "give a reason",
    ),
]


@pytest.mark.parametrize(
    ("attempt", "message"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input_is_refused_by_name_and_writes_nothing(
    stocked: Session, attempt: Callable[[Session], Any], message: str
) -> None:
    before = rows(stocked), balance(stocked, "WH-1", "BELT-WM"), balance(stocked, "WH-1", "SEAL")
    with pytest.raises((InvalidMovement, InsufficientStock, UnknownLocation)) as refused:
        attempt(stocked)
    stocked.rollback()
    assert message in str(refused.value)
    after = rows(stocked), balance(stocked, "WH-1", "BELT-WM"), balance(stocked, "WH-1", "SEAL")
    assert after == before


def test_a_part_the_van_was_not_known_to_hold_is_recorded_and_flagged(stocked: Session) -> None:
    """The field's report is a fact: the books are corrected, never the report refused."""
    posted = field.consume(stocked, TECH, JOB, [("BELT-WM", 2)], actor=CLERK)
    stocked.commit()
    assert [(m.kind, m.on_hand_change, m.flagged, m.job_id) for m in posted] == [
        (MovementKind.ADJUST, 2, True, JOB),
        (MovementKind.CONSUME, -2, True, JOB),
    ]
    assert balance(stocked, "VAN-T-01", "BELT-WM") == (0, 0)


def test_a_use_fulfils_the_jobs_hold_and_a_return_puts_parts_back(stocked: Session) -> None:
    hold(stocked, "VAN-T-01", 1)
    field.consume(stocked, TECH, JOB, [("FLT-2020", 1)], actor=CLERK)
    assert balance(stocked, "VAN-T-01", "FLT-2020") == (0, 0)
    assert reservations.reservations_of(stocked, [JOB]) == []
    field.return_unused(stocked, TECH, JOB, [("FLT-2020", 1)], actor=CLERK)
    stocked.commit()
    assert balance(stocked, "VAN-T-01", "FLT-2020") == (1, 0)
    with pytest.raises(InvalidMovement, match="1 returned, but 0 of FLT-2020 are recorded used"):
        field.return_unused(stocked, TECH, JOB, [("FLT-2020", 1)], actor=CLERK)


def test_a_use_that_leaves_less_than_is_held_gives_up_the_latest_hold(stocked: Session) -> None:
    """Job 601 (tomorrow) held the van's only filter; job 602 used it today."""
    for job, day in ((600, DAY), (601, date(2026, 11, 25))):
        reservations.reserve_day(
            stocked,
            day,
            [reservations.VanRoute(TECH, [reservations.Visit(job, {"FLT-2020": 1})])],
            plan_id=None,
            actor=CLERK,
            reason="plan",
        )
    assert reservations.shortages(stocked, date(2026, 11, 25)) == {601: {"FLT-2020": 1}}
    stocked.commit()
    field.consume(stocked, TECH, 602, [("FLT-2020", 1)], actor=CLERK)
    stocked.commit()
    assert reservations.shortages(stocked, DAY) == {600: {"FLT-2020": 1}}
    ledger.receive(stocked, "WH-1", [("FLT-2020", 1)], actor=CLERK, reason="PO")
    ledger.transfer(stocked, "WH-1", "VAN-T-01", [("FLT-2020", 1)], actor=CLERK, reason="top up")
    stocked.commit()
    assert reservations.shortages(stocked, DAY) == {}, "arriving stock fills the waiting hold"
    assert balance(stocked, "VAN-T-01", "FLT-2020") == (1, 1)


def test_the_ledger_refuses_update_and_delete_at_the_database(stocked: Session) -> None:
    ledger.receive(stocked, "WH-1", [("SEAL", 1)], actor=CLERK, reason="PO")
    stocked.commit()
    for statement in (
        update(Movement).values(reason="rewritten"),
        delete(Movement),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            stocked.execute(statement)
        stocked.rollback()
    if stocked.get_bind().dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            stocked.execute(text("TRUNCATE stock_movements CASCADE"))
        stocked.rollback()
    assert rows(stocked) > 0


def test_release_job_gives_back_every_hold_of_the_job(stocked: Session) -> None:
    for location in ("WH-1", "VAN-T-01"):
        hold(stocked, location, 1)
    reservations.release_job(stocked, JOB, actor=CLERK, reason="job cancelled")
    stocked.commit()
    assert stocked.scalar(select(func.count()).select_from(Reservation)) == 0
    assert balance(stocked, "WH-1", "FLT-2020") == (5, 0)
    assert balance(stocked, "VAN-T-01", "FLT-2020") == (1, 0)
    released = stocked.scalars(select(Movement).where(Movement.kind == MovementKind.RELEASE))
    assert {(m.job_id, m.reason) for m in released} == {(JOB, "job cancelled")}


def plan(session: Session, day: date, job_id: int, *stops: reservations.Pickup) -> None:
    """Publish a day on which T-01 makes ``stops`` and then does job ``job_id``, which
    needs one filter, or what the one pick-up collects."""
    parts = stops[0].parts if stops else {"FLT-2020": 1}
    reservations.reserve_day(
        session,
        day,
        [reservations.VanRoute(TECH, [*stops, reservations.Visit(job_id, parts)])],
        plan_id=None,
        actor=CLERK,
        reason="plan",
    )


def test_a_receipt_fills_the_hold_waiting_at_the_warehouse(stocked: Session) -> None:
    """T-01 picks up three belts at WH-1, which has two: the job waits for one until it comes."""
    plan(stocked, DAY, 600, reservations.Pickup("WH-1", {"BELT-WM": 3}))
    assert reservations.shortages(stocked, DAY) == {600: {"BELT-WM": 1}}

    posted = ledger.receive(stocked, "WH-1", [("BELT-WM", 1)], actor=CLERK, reason="PO 18")
    stocked.commit()

    assert [(m.kind, m.job_id) for m in posted] == [
        (MovementKind.RECEIVE, None),
        (MovementKind.RESERVE, 600),
    ]
    assert reservations.shortages(stocked, DAY) == {}
    assert balance(stocked, "WH-1", "BELT-WM") == (3, 3)
    assert_books_agree(stocked)


@pytest.fixture
def hold_read_then_given_up(stocked: Session, sessions: sessionmaker[Session]) -> Reservation:
    """T-01's two filters held for job 600 today and 601 tomorrow; 601's hold as ``stocked``
    read it (the test keeps it, as a caller would), before another session's count of one
    filter gave that hold up."""
    ledger.transfer(stocked, "WH-1", "VAN-T-01", [("FLT-2020", 1)], actor=CLERK, reason="load")
    plan(stocked, DAY, 600)
    plan(stocked, NEXT_DAY, 601)
    stocked.commit()
    (read,) = reservations.reservations_of(stocked, [601])
    assert read.reserved == 1
    with sessions() as other:
        ledger.count(other, "VAN-T-01", [("FLT-2020", 1)], actor=CLERK, reason="cycle count")
        other.commit()
    return read


@pytest.mark.usefixtures("hold_read_then_given_up")
def test_a_hold_read_before_another_session_gave_it_up_is_not_released_twice(
    stocked: Session,
) -> None:
    """Sessions keep what they loaded across commits; the ledger must read holds afresh."""
    reservations.release_job(stocked, 601, actor=CLERK, reason="cancelled")
    stocked.commit()

    assert balance(stocked, "VAN-T-01", "FLT-2020") == (1, 1)
    assert [line.job_id for line in reservations.reservations_of(stocked, [600, 601])] == [600]
    assert_books_agree(stocked)


@pytest.mark.usefixtures("hold_read_then_given_up")
def test_stock_arriving_refills_a_hold_read_before_another_session_gave_it_up(
    stocked: Session,
) -> None:
    ledger.transfer(stocked, "WH-1", "VAN-T-01", [("FLT-2020", 1)], actor=CLERK, reason="load")
    stocked.commit()

    assert reservations.shortages(stocked, NEXT_DAY) == {}
    assert balance(stocked, "VAN-T-01", "FLT-2020") == (2, 2)
    assert_books_agree(stocked)


def test_what_a_cancelled_job_gave_up_goes_to_a_job_waiting_for_it(stocked: Session) -> None:
    """Job 700 held the van's only filter; job 701, the next day, waited for one."""
    for job, day in ((700, DAY), (701, date(2026, 11, 25))):
        reservations.reserve_day(
            stocked,
            day,
            [reservations.VanRoute(TECH, [reservations.Visit(job, {"FLT-2020": 1})])],
            plan_id=None,
            actor=CLERK,
            reason="plan",
        )
    assert reservations.shortages(stocked, date(2026, 11, 25)) == {701: {"FLT-2020": 1}}
    reservations.release_job(stocked, 700, actor=CLERK, reason="job cancelled")
    stocked.commit()
    assert reservations.shortages(stocked, date(2026, 11, 25)) == {}
    assert [
        (line.job_id, line.reserved) for line in reservations.reservations_of(stocked, [700, 701])
    ] == [(701, 1)]
    assert_books_agree(stocked)

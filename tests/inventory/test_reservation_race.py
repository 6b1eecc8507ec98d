"""Real concurrent transactions on PostgreSQL racing for the last unit.

Each race has a holder and a contender, each in its own thread and session. The holder
posts and keeps its transaction open; the contender starts once the holder is there (a
barrier) and must then wait on the balance row the holder locked: the test sees it
blocked by the holder in ``pg_blocking_pids`` before the holder commits. So the two
really overlap, and the contender's outcome is what the ledger decides after the wait.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from inventory import field, ledger, reservations, service
from inventory.ledger import Actor, InsufficientStock, InvalidMovement
from inventory.models import Movement, MovementKind, Reservation, StockLevel
from inventory.reservations import VanRoute, Visit
from inventory.service import VanData, WarehouseData
from tests.helpers import assert_books_agree

pytestmark = pytest.mark.postgresql_only

DAY = date(2026, 11, 24)
NEXT_DAY = date(2026, 11, 25)
CLERK = Actor(3, "wes")
TECH, OTHER_TECH = 7, 8
#: How long the test waits for the contender to block before it calls the race lost.
BLOCK_TIMEOUT_S = 10.0


def stock(sessions: sessionmaker[Session], warehouse: int, van: int) -> None:
    """WH-1 with ``warehouse`` filters, VAN-T-01 with ``van``, VAN-T-02 empty; committed."""
    with sessions() as session:
        service.upsert_parts(session, {"FLT-2020": "Air filter"})
        service.upsert_warehouses(
            session,
            [
                WarehouseData(
                    "WH-1", "North", 59.9, 10.7, time(7), time(17), 10, {"FLT-2020": warehouse}
                )
            ],
        )
        service.upsert_vans(
            session,
            [
                VanData(TECH, "T-01", "Sofia", {"FLT-2020": van}),
                VanData(OTHER_TECH, "T-02", "Ola", {}),
            ],
        )
        session.commit()


def levels(sessions: sessionmaker[Session]) -> dict[str, tuple[int, int]]:
    """Location code -> (on hand, reserved) of the filter, as committed."""
    with sessions() as session:
        return {
            level.location.code: (level.on_hand, level.reserved)
            for level in session.scalars(select(StockLevel))
        }


def hold_then_contend(
    engine: Engine,
    sessions: sessionmaker[Session],
    holder: Callable[[Session], Any],
    contender: Callable[[Session], Any],
) -> tuple[Any, Any]:
    """Run ``holder`` then, while its transaction is open, ``contender``; what each
    returned or raised. Each commits what it did, or rolls back what it raised."""
    barrier = threading.Barrier(2, timeout=BLOCK_TIMEOUT_S)
    blocked = threading.Event()
    pids: dict[str, int] = {}

    def backend_pid(session: Session, role: str) -> None:
        pids[role] = session.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def run_holder() -> Any:
        with sessions() as session:
            backend_pid(session, "holder")
            result = holder(session)
            barrier.wait()
            blocked.wait(BLOCK_TIMEOUT_S)
            session.commit()
            return result

    def run_contender() -> Any:
        with sessions() as session:
            backend_pid(session, "contender")
            barrier.wait()
            try:
                result = contender(session)
            except Exception as exc:  # noqa: BLE001 - the outcome the test asserts on
                session.rollback()
                return exc
            session.commit()
            return result

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(run_holder)
        contended = pool.submit(run_contender)
        waited = wait_until_blocked(engine, pids, contended)
        blocked.set()
        outcome = held.result(), contended.result()
    assert waited, "the contender never waited for the holder's lock: the race did not overlap"
    return outcome


def wait_until_blocked(engine: Engine, pids: dict[str, int], contended: Future[Any]) -> bool:
    """Whether the contender's backend came to wait on the holder's (polled; each poll is
    its own transaction, as PostgreSQL keeps one view of the activity per transaction)."""
    deadline = clock.monotonic() + BLOCK_TIMEOUT_S
    while clock.monotonic() < deadline and not contended.done():
        if len(pids) == 2:
            with engine.connect() as connection:
                if connection.execute(
                    text("SELECT CAST(:holder AS integer) = ANY(pg_blocking_pids(:contender))"),
                    pids,
                ).scalar_one():
                    return True
        clock.sleep(0.01)
    return False


def reserve_filter(job_id: int, location_code: str = "WH-1") -> Callable[[Session], Any]:
    return lambda session: reservations.reserve(
        session,
        job_id=job_id,
        day=DAY,
        location_code=location_code,
        van_code="VAN-T-01",
        sku="FLT-2020",
        quantity=1,
        actor=CLERK,
        reason="plan",
    )


def plan_day(day: date, job_id: int) -> Callable[[Session], dict[int, dict[str, int]]]:
    """Publish a day on which T-01's only job needs one filter."""
    return lambda session: reservations.reserve_day(
        session,
        day,
        [VanRoute(TECH, [Visit(job_id, {"FLT-2020": 1})])],
        plan_id=None,
        actor=CLERK,
        reason="plan published",
    )


def test_two_reservations_racing_for_the_last_unit_one_wins(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    stock(sessions, warehouse=1, van=0)

    won, lost = hold_then_contend(engine, sessions, reserve_filter(501), reserve_filter(502))

    assert isinstance(won, Reservation) and (won.job_id, won.reserved) == (501, 1)
    assert isinstance(lost, InsufficientStock)
    assert str(lost) == "WH-1 has 0 of FLT-2020 available, 1 needed"
    assert levels(sessions)["WH-1"] == (1, 1)
    with sessions() as session:
        assert [line.job_id for line in reservations.reservations_of(session, [501, 502])] == [501]
        assert_books_agree(session)


def test_twenty_clerks_making_five_attempts_each_hold_exactly_ten_units(database_url: str) -> None:
    """20 clerks start at once and make 5 attempts each, every one its own transaction,
    against 10 filters: exactly 10 holds, every refusal saw none available."""
    engine = make_engine(database_url, pool_size=20, max_overflow=0)  # all 20 connected at once
    sessions = make_session_factory(engine)
    stock(sessions, warehouse=10, van=0)
    barrier = threading.Barrier(20, timeout=BLOCK_TIMEOUT_S)

    def clerk(number: int) -> list[InsufficientStock | None]:
        """Each attempt's refusal, or None when it held a filter."""
        barrier.wait()
        outcomes: list[InsufficientStock | None] = []
        for job_id in range(1000 + 10 * number, 1005 + 10 * number):
            with sessions() as session:
                try:
                    reserve_filter(job_id)(session)
                except InsufficientStock as refused:
                    outcomes.append(refused)
                    continue
                session.commit()
                outcomes.append(None)
        return outcomes

    try:
        with ThreadPoolExecutor(20) as pool:
            outcomes = [o for attempts in pool.map(clerk, range(20)) for o in attempts]

        refusals = [o for o in outcomes if o is not None]
        assert (len(outcomes) - len(refusals), len(refusals)) == (10, 90)
        assert {refused.available for refused in refusals} == {0}
        assert levels(sessions)["WH-1"] == (10, 10)
        with sessions() as session:
            reserve_rows = select(func.count()).where(Movement.kind == MovementKind.RESERVE)
            assert session.scalar(reserve_rows) == 10
            assert_books_agree(session)
    finally:
        engine.dispose()


def test_two_transfers_racing_for_the_last_unit_one_moves_it(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    stock(sessions, warehouse=1, van=0)

    def load(van: str) -> Callable[[Session], Any]:
        return lambda session: ledger.transfer(
            session, "WH-1", van, [("FLT-2020", 1)], actor=CLERK, reason="load"
        )

    moved, refused = hold_then_contend(engine, sessions, load("VAN-T-01"), load("VAN-T-02"))

    assert [m.on_hand_change for m in moved] == [-1, 1]
    assert isinstance(refused, InsufficientStock)
    assert str(refused) == "WH-1 has 0 of FLT-2020 available, 1 needed"
    after = levels(sessions)
    assert (after["WH-1"], after["VAN-T-01"], after.get("VAN-T-02", (0, 0))) == (
        (0, 0),
        (1, 0),
        (0, 0),
    )
    with sessions() as session:
        assert_books_agree(session)


def test_two_days_published_at_once_one_holds_the_last_van_unit(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Today's plan holds T-01's only filter; tomorrow's, published meanwhile, waits for stock."""
    stock(sessions, warehouse=0, van=1)

    today, tomorrow = hold_then_contend(
        engine, sessions, plan_day(DAY, 600), plan_day(NEXT_DAY, 601)
    )

    assert (today, tomorrow) == ({}, {601: {"FLT-2020": 1}})
    assert levels(sessions)["VAN-T-01"] == (1, 1)
    with sessions() as session:
        assert reservations.shortages(session, NEXT_DAY) == {601: {"FLT-2020": 1}}
        assert_books_agree(session)


def test_a_release_racing_a_count_that_gave_up_the_same_hold_releases_nothing_twice(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """T-01 holds its two filters for today's job 600 and tomorrow's 601. A count finds one
    (tomorrow's hold is given up) while job 601 is cancelled: today's hold must stay."""
    stock(sessions, warehouse=0, van=2)
    with sessions() as session:
        plan_day(DAY, 600)(session)
        plan_day(NEXT_DAY, 601)(session)
        session.commit()

    hold_then_contend(
        engine,
        sessions,
        lambda session: ledger.count(
            session, "VAN-T-01", [("FLT-2020", 1)], actor=CLERK, reason="cycle count"
        ),
        lambda session: reservations.release_job(session, 601, actor=CLERK, reason="cancelled"),
    )

    assert levels(sessions)["VAN-T-01"] == (1, 1)
    with sessions() as session:
        assert [(line.job_id, line.reserved) for line in session.scalars(select(Reservation))] == [
            (600, 1)
        ]
        assert_books_agree(session)


def test_the_same_return_sent_twice_at_once_is_booked_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """A phone retries its report of one filter brought back unused: the second must find
    the first and be refused, not put a second filter in the van."""
    stock(sessions, warehouse=0, van=1)
    with sessions() as session:
        field.consume(session, TECH, 700, [("FLT-2020", 1)], actor=CLERK)
        session.commit()

    def bring_back(session: Session) -> Any:
        return field.return_unused(session, TECH, 700, [("FLT-2020", 1)], actor=CLERK)

    returned, refused = hold_then_contend(engine, sessions, bring_back, bring_back)

    assert [m.on_hand_change for m in returned] == [1]
    assert isinstance(refused, InvalidMovement)
    assert "1 returned, but 0 of FLT-2020 are recorded used" in str(refused)
    assert levels(sessions)["VAN-T-01"] == (1, 0)

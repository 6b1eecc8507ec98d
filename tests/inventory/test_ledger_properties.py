"""Property: whatever movements are posted, balances and reservations are the ledger's sums.

Hypothesis draws sequences of receipts, transfers, counts, holds, plan reservations, uses
and returns over two warehouses, two vans and three parts, with quantities that are often
more than there is. Refused operations must leave nothing behind. Runs on SQLite and on
PostgreSQL; each example runs in one transaction that is rolled back afterwards.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory import field, ledger, reservations, service
from inventory.ledger import Actor, InventoryError
from inventory.models import Movement
from inventory.service import VanData, WarehouseData
from tests.helpers import assert_books_agree

ACTOR = Actor(None, "hypothesis")
WAREHOUSES = ("WH-1", "WH-2")
VANS = {"VAN-T-01": 7, "VAN-T-02": 8}
LOCATIONS = WAREHOUSES + tuple(VANS)
SKUS = ("FLT", "BELT", "SEAL")
DAYS = (date(2026, 11, 24), date(2026, 11, 25))
JOBS = (1, 2, 3, 4)

quantity = st.integers(min_value=1, max_value=4)
sku = st.sampled_from(SKUS)

operation = st.one_of(
    st.tuples(st.just("receive"), st.sampled_from(LOCATIONS), sku, quantity),
    st.tuples(
        st.just("transfer"), st.sampled_from(LOCATIONS), st.sampled_from(LOCATIONS), sku, quantity
    ),
    st.tuples(st.just("count"), st.sampled_from(LOCATIONS), sku, st.integers(0, 5)),
    st.tuples(
        st.just("reserve"),
        st.sampled_from(JOBS),
        st.sampled_from(DAYS),
        st.sampled_from(LOCATIONS),
        st.sampled_from(tuple(VANS)),
        sku,
        quantity,
    ),
    st.tuples(st.just("release"), st.sampled_from(JOBS)),
    st.tuples(
        st.just("consume"),
        st.sampled_from(tuple(VANS.values())),
        st.sampled_from(JOBS),
        sku,
        quantity,
    ),
    st.tuples(
        st.just("return"),
        st.sampled_from(tuple(VANS.values())),
        st.sampled_from(JOBS),
        sku,
        quantity,
    ),
    st.tuples(
        st.just("plan"),
        st.sampled_from(DAYS),
        st.lists(
            st.tuples(
                st.sampled_from(tuple(VANS.values())),
                st.sampled_from(JOBS),
                st.dictionaries(sku, quantity, min_size=1, max_size=2),
                st.one_of(
                    st.none(),
                    st.tuples(
                        st.sampled_from(WAREHOUSES), st.dictionaries(sku, quantity, max_size=2)
                    ),
                ),
            ),
            max_size=3,
        ),
    ),
)


@pytest.fixture
def stocked(session: Session) -> Session:
    service.upsert_parts(session, {code: code.title() for code in SKUS})
    service.upsert_warehouses(
        session,
        [
            WarehouseData(code, code, 59.9, 10.7, time(7), time(17), 10, dict.fromkeys(SKUS, 4))
            for code in WAREHOUSES
        ],
    )
    service.upsert_vans(
        session,
        [VanData(tech, code[4:], code, dict.fromkeys(SKUS, 2)) for code, tech in VANS.items()],
    )
    session.commit()
    return session


def apply(session: Session, op: tuple[Any, ...]) -> None:
    kind, *args = op
    if kind == "receive":
        location, part, n = args
        ledger.receive(session, location, [(part, n)], actor=ACTOR, reason="delivery")
    elif kind == "transfer":
        source, destination, part, n = args
        ledger.transfer(session, source, destination, [(part, n)], actor=ACTOR, reason="move")
    elif kind == "count":
        location, part, n = args
        ledger.count(session, location, [(part, n)], actor=ACTOR, reason="count")
    elif kind == "reserve":
        job, day, location, van, part, n = args
        reservations.reserve(
            session,
            job_id=job,
            day=day,
            location_code=location,
            van_code=van,
            sku=part,
            quantity=n,
            actor=ACTOR,
            reason="hold",
        )
    elif kind == "release":
        reservations.release_job(session, args[0], actor=ACTOR, reason="done")
    elif kind == "consume":
        technician, job, part, n = args
        field.consume(session, technician, job, [(part, n)], actor=ACTOR)
    elif kind == "return":
        technician, job, part, n = args
        field.return_unused(session, technician, job, [(part, n)], actor=ACTOR)
    else:
        day, visits = args
        routes: dict[int, list[reservations.Pickup | reservations.Visit]] = {}
        seen: set[int] = set()
        for technician, job, parts, pickup in visits:
            if job in seen:
                continue  # a job is on one route only
            seen.add(job)
            stops = routes.setdefault(technician, [])
            if pickup is not None:
                stops.append(reservations.Pickup(*pickup))
            stops.append(reservations.Visit(job, parts))
        reservations.reserve_day(
            session,
            day,
            [reservations.VanRoute(t, stops) for t, stops in routes.items()],
            plan_id=None,
            actor=ACTOR,
            reason="plan",
        )


@settings(
    max_examples=80,
    deadline=None,
    # The database fixture is built once per test; every example runs in its own
    # transaction and rolls it back, so examples do not see each other's rows.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(operation, min_size=1, max_size=25))
def test_balances_and_reservations_are_always_the_ledgers_sums(
    stocked: Session, operations: list[tuple[Any, ...]]
) -> None:
    try:
        for op in operations:
            before = stocked.scalar(select(func.count()).select_from(Movement))
            try:
                apply(stocked, op)
            except InventoryError:
                after = stocked.scalar(select(func.count()).select_from(Movement))
                assert after == before, f"{op} was refused but wrote rows"
            stocked.flush()
            assert_books_agree(stocked)
    finally:
        stocked.rollback()

"""Reservations follow the plan: publish, move, unassign, cancel, re-plan and completion.

Each change of the plan or of a job moves its reservations in the same transaction.
Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import savepoint
from dispatch.enums import JobStatus
from dispatch.lifecycle import transition
from dispatch.models import Job, Plan, Technician
from dispatch.planning import build_problem, new_plan, publish, published
from dispatch.planning.edits import EditRefused, EditResult, move, unassign
from dispatch.stock import waiting_for_stock
from inventory import field, ledger, service
from inventory.models import Movement, MovementKind, Reservation, StockLocation
from optimizer import SolveParams, solve
from tests.dispatch.test_planning_problem import import_day, load_day
from tests.helpers import assert_books_agree

S = JobStatus
WORKER = ledger.Actor(None, "test")


@pytest.fixture
def oslo(sessions: sessionmaker[Session]) -> date:
    with sessions() as session:
        return import_day(session, load_day("oslo-5x30"))


def publish_new_plan(session: Session, day: date, seconds: float = 0.5) -> Plan:
    problem = build_problem(session, day)
    solution = solve(problem, SolveParams(time_limit_s=seconds, workers=1))
    plan = new_plan(session, day, problem, solution, reason="test", created_by=None)
    publish(session, plan.id, user_id=None)
    session.commit()
    return plan


def published_plan(session: Session, day: date) -> Plan:
    current = published(session, day)
    assert current is not None
    return current[1]


def lines(session: Session) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(job reference, SKU, location code) -> (wanted, reserved) of every reservation line."""
    rows = session.execute(
        select(Job.reference, Reservation, StockLocation.code)
        .join(Job, Job.id == Reservation.job_id)
        .join(StockLocation, StockLocation.id == Reservation.location_id)
    )
    return {
        (reference, line.part.sku, code): (line.wanted, line.reserved)
        for reference, line, code in rows
    }


def expected_lines(
    document: dict, van_stock: dict[str, dict[str, int]]
) -> dict[tuple[str, str, str], int]:  # type: ignore[type-arg]
    """The reservation lines a published plan calls for, computed from its document alone:
    a job takes from its van what the van still has, and the rest from the pick-ups
    made before it, the earliest first."""
    expected: Counter[tuple[str, str, str]] = Counter()
    for route in document["routes"]:
        van = f"VAN-{route['technician']}"
        left = Counter(van_stock.get(van, {}))
        pickups: list[tuple[str, Counter[str]]] = []
        for stop in route["stops"]:
            if stop["type"] == "warehouse":
                pickups.append((stop["id"], Counter(stop["pickup"])))
            if stop["type"] != "job":
                continue
            for sku, quantity in stop.get("parts", {}).items():
                from_van = min(quantity, left[sku])
                left[sku] -= from_van
                if from_van:
                    expected[stop["id"], sku, van] += from_van
                rest = quantity - from_van
                for warehouse, picked in pickups:
                    taken = min(rest, picked[sku])
                    if taken:
                        picked[sku] -= taken
                        rest -= taken
                        expected[stop["id"], sku, warehouse] += taken
                if rest:
                    expected[stop["id"], sku, van] += rest
    return dict(expected)


def job_parts(session: Session) -> dict[str, dict[str, int]]:
    return {
        job.reference: {part.sku: part.quantity for part in job.parts}
        for job in session.scalars(select(Job))
    }


def with_parts(document: dict, parts: dict[str, dict[str, int]]) -> dict:  # type: ignore[type-arg]
    """The document with each job stop's parts (the format keeps them on the job)."""
    for route in document["routes"]:
        for stop in route["stops"]:
            if stop["type"] == "job":
                stop["parts"] = parts[stop["id"]]
    return document


def stock_by_location(session: Session) -> dict[str, dict[str, int]]:
    return {
        location.code: service.on_hand(location)
        for location in session.scalars(select(StockLocation))
    }


def test_publishing_reserves_each_routed_jobs_parts_where_its_route_gets_them(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        stock = stock_by_location(session)
        plan = publish_new_plan(session, oslo)
    with sessions() as session:
        document = with_parts(published_plan(session, oslo).document, job_parts(session))
        expected = expected_lines(document, stock)
        stored = lines(session)
        assert expected, "the day has routed jobs with parts"
        assert {key: wanted for key, (wanted, _) in stored.items()} == expected
        assert all(reserved == wanted for wanted, reserved in stored.values())
        assert waiting_for_stock(session, oslo) == {}
        assert_books_agree(session)
        reserve_rows = session.scalars(
            select(Movement).where(Movement.kind == MovementKind.RESERVE)
        ).all()
        assert {row.plan_id for row in reserve_rows} == {plan.id}
        assert sum(row.reserved_change for row in reserve_rows) == sum(expected.values())


def test_moving_a_job_moves_its_reservation_to_the_other_van_in_the_same_edit(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        publish_new_plan(session, oslo)
        before = lines(session)
        result, reference, old_van, target = _first_possible_move(session, oslo)
        session.commit()
        assert result.plan.version == 2
    with sessions() as session:
        after = lines(session)
        moved = {key for key in after if key[0] == reference}
        assert moved and all(key[2] != old_van for key in moved)
        assert {key[1] for key in moved} == {key[1] for key in before if key[0] == reference}
        assert all(key[2] in (f"VAN-{target}", "WH-1") for key in moved)
        assert_books_agree(session)


def _first_possible_move(session: Session, day: date) -> tuple[EditResult, str, str, str]:
    """Move some job with parts to another technician (the first move the rules accept);
    the edit, the job, its old van and the new technician."""
    jobs = session.scalars(select(Job).where(Job.status == S.SCHEDULED).order_by(Job.id))
    technicians = session.scalars(select(Technician).order_by(Technician.code)).all()
    for job in jobs:
        if not job.parts or job.technician is None:
            continue
        for other in technicians:
            if other.id == job.technician_id or not set(job.required_skills) <= set(other.skills):
                continue
            try:
                with savepoint(session):
                    result = move(
                        session, day, job.reference, other.code, expected_version=1, user_id=None
                    )
            except EditRefused:
                continue
            return result, job.reference, f"VAN-{job.technician.code}", other.code
    raise AssertionError("no job with parts can move to anyone")


def test_unassigning_and_cancelling_release_the_jobs_reservations(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """Others' lines may shift (a unit freed in the van serves a job that was to pick one
    up), but every other job still holds all its parts."""
    with sessions() as session:
        publish_new_plan(session, oslo)
        before = lines(session)
        with_reservations = sorted({key[0] for key in before})
        first, second = with_reservations[:2]
        unassign(session, oslo, first, expected_version=1, user_id=None)
        transition(
            session,
            session.scalars(select(Job).where(Job.reference == second)).one(),
            S.CANCELLED,
            note="customer cancelled",
        )
        session.commit()
    with sessions() as session:
        after = lines(session)
        assert not [key for key in after if key[0] in (first, second)]
        assert _held_by_job(after) == {
            (job, sku): units
            for (job, sku), units in _held_by_job(before).items()
            if job not in (first, second)
        }
        releases = session.execute(
            select(Job.reference, Movement.reason)
            .join(Job, Job.id == Movement.job_id)
            .where(Movement.kind == MovementKind.RELEASE)
        ).all()
        assert {first, second} <= {reference for reference, _ in releases}
        assert any("cancelled" in reason for reference, reason in releases if reference == second)
        assert_books_agree(session)


def _held_by_job(
    stored: dict[tuple[str, str, str], tuple[int, int]],
) -> dict[tuple[str, str], int]:
    held: Counter[tuple[str, str]] = Counter()
    for (job, sku, _), (_, reserved) in stored.items():
        held[job, sku] += reserved
    return dict(held)


def test_a_replan_that_takes_a_part_from_the_warehouse_reserves_it_there(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """After the vans were emptied, the new plan picks everything up at the warehouse."""
    with sessions() as session:
        publish_new_plan(session, oslo)
        routed = {key[0] for key in lines(session)}
        vans = session.scalars(select(StockLocation).where(StockLocation.code.like("VAN-%")))
        for van in vans:
            ledger.count(
                session,
                van.code,
                [(sku, 0) for sku in service.on_hand(van)],
                actor=WORKER,
                reason="van emptied",
            )
        session.commit()
        assert {key[0] for key in lines(session) if key[1]} == routed
        assert waiting_for_stock(session, oslo), "the emptied vans no longer cover the plan"
        publish_new_plan(session, oslo)
    with sessions() as session:
        stored = lines(session)
        assert stored and all(code == "WH-1" for _, _, code in stored)
        assert all(wanted == reserved for wanted, reserved in stored.values())
        assert waiting_for_stock(session, oslo) == {}
        assert_books_agree(session)


def test_completing_a_job_consumes_what_was_used_and_releases_the_rest(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        publish_new_plan(session, oslo)
        reference, sku, van_code = next(key for key in lines(session) if key[2].startswith("VAN"))
        job = session.scalars(select(Job).where(Job.reference == reference)).one()
        van = service.locations_by_code(session, {van_code})[van_code]
        on_hand_before = service.on_hand(van)[sku]
        for status in (S.DISPATCHED, S.EN_ROUTE, S.ON_SITE):
            transition(session, job, status)
        assert job.technician_id is not None
        field.consume(session, job.technician_id, job.id, [(sku, 1)], actor=WORKER)
        transition(session, job, S.COMPLETED)
        session.commit()
    with sessions() as session:
        assert not [key for key in lines(session) if key[0] == reference]
        van = service.locations_by_code(session, {van_code})[van_code]
        assert service.on_hand(van).get(sku, 0) == on_hand_before - 1
        consumed = session.scalars(
            select(Movement).where(Movement.kind == MovementKind.CONSUME)
        ).all()
        assert [(m.on_hand_change, m.flagged) for m in consumed] == [(-1, False)]
        assert_books_agree(session)


def test_stock_another_day_holds_is_not_offered_to_the_planner(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """Available for a day is on hand less what other days reserved."""
    with sessions() as session:
        publish_new_plan(session, oslo)
        held: Counter[tuple[str, str]] = Counter()
        for line in session.scalars(select(Reservation)):
            held[line.location.code, line.part.sku] += line.reserved
        stock = stock_by_location(session)
        session.execute(update(Reservation).values(service_date=oslo + timedelta(days=1)))
        problem = build_problem(session, oslo)
        session.rollback()
    for technician in problem.technicians:
        van = f"VAN-{technician.id}"
        for sku, quantity in stock[van].items():
            assert technician.van_stock.get(sku, 0) == quantity - held[van, sku]
    for warehouse in problem.warehouses:
        for sku, quantity in stock[warehouse.id].items():
            assert warehouse.stock.get(sku, 0) == quantity - held[warehouse.id, sku]


def test_a_plan_published_after_the_stock_went_reports_the_job_waiting_for_stock(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """The plan was built when the van had the part; publish still succeeds and says so."""
    with sessions() as session:
        problem = build_problem(session, oslo)
        solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
        plan = new_plan(session, oslo, problem, solution, reason="test", created_by=None)
        session.commit()
        document = with_parts(plan.document, job_parts(session))
        _, sku, van_code = next(
            key for key in expected_lines(document, stock_by_location(session)) if "VAN" in key[2]
        )
        needing = {
            stop["id"]
            for route in document["routes"]
            if f"VAN-{route['technician']}" == van_code
            for stop in route["stops"]
            if sku in stop.get("parts", {})
        }
        ledger.count(session, van_code, [(sku, 0)], actor=WORKER, reason="lost")
        publish(session, plan.id, user_id=None)
        session.commit()
    with sessions() as session:
        waiting = waiting_for_stock(session, oslo)
        short = [reference for reference, parts in waiting.items() if sku in parts]
        assert short and set(short) <= needing
        job = session.scalars(select(Job).where(Job.reference == short[0])).one()
        assert job.status == S.SCHEDULED
        assert_books_agree(session)

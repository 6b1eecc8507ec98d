"""Tests for dispatch.planning: the optimizer's Problem built from the database.

The judge is the optimizer's own scenario reader: a day imported and then built from its
rows must be the Problem the reader makes of the same file. Every database test runs on
SQLite and on PostgreSQL (see the ``session`` fixture).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import HoldReason, JobStatus
from dispatch.lifecycle import transition
from dispatch.models import DayOff, Job, ServiceDay, Technician, WorkingHours
from dispatch.planning import DayClock, PlanningError, build_problem
from dispatch.scenario import export_scenario, import_scenario
from optimizer import Problem, SolveParams, StopKind, check, scenario_problem, solve
from optimizer import Technician as PlanTechnician

DAYS_DIR = Path(__file__).parent.parent / "data" / "fieldservice"

# Named rather than globbed, so a missing file fails instead of silently testing less.
DAYS = ["oslo-5x30", "stockholm-20x120", "madrid-100x600", "stockholm-200x1200"]

S = JobStatus


def load_day(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DAYS_DIR / f"{name}.json").read_text())
    return document


def import_day(session: Session, document: dict[str, Any]) -> date:
    """Import ``document`` and commit; returns its date."""
    import_scenario(session, document)
    session.commit()
    return date.fromisoformat(document["date"])


def job(session: Session, reference: str) -> Job:
    found = session.scalar(select(Job).where(Job.reference == reference))
    assert found is not None, reference
    return found


def technician(session: Session, code: str) -> Technician:
    found = session.scalar(select(Technician).where(Technician.code == code))
    assert found is not None, code
    return found


def dispatch_to(session: Session, job: Job, technician: Technician, hour: int) -> None:
    """Schedule ``job`` for ``technician`` at ``hour`` UTC on its day, and dispatch it."""
    assert job.service_date is not None
    start = datetime.combine(job.service_date, time(hour), tzinfo=UTC)
    transition(
        session,
        job,
        S.SCHEDULED,
        technician_id=technician.id,
        planned_start=start,
        planned_end=start + timedelta(minutes=job.duration_min),
    )
    transition(session, job, S.DISPATCHED)


def without_fixed_jobs(problem: Problem) -> Problem:
    """The problem as a scenario document can state it: the format has no jobs under way.

    So neither the jobs under way nor their parts, which the builder counts as in the van;
    stock of nothing is left out on both sides of a comparison (``without_empty_stock``).
    """

    def van_without_carried(technician: PlanTechnician) -> dict[str, int]:
        stock = dict(technician.van_stock)
        for job_id in technician.fixed_jobs:
            for sku, quantity in problem.job(job_id).parts.items():
                stock[sku] -= quantity
        return stock

    return without_empty_stock(
        dataclasses.replace(
            problem,
            technicians=tuple(
                dataclasses.replace(t, fixed_jobs=(), van_stock=van_without_carried(t))
                for t in problem.technicians
            ),
        )
    )


def without_empty_stock(problem: Problem) -> Problem:
    return dataclasses.replace(
        problem,
        technicians=tuple(
            dataclasses.replace(t, van_stock={s: q for s, q in t.van_stock.items() if q})
            for t in problem.technicians
        ),
    )


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` inside the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("name", DAYS)
def test_problem_from_the_database_is_the_readers_problem(
    session: Session, sessions: sessionmaker[Session], name: str
) -> None:
    """An imported day built from its rows equals ``scenario_problem`` of the same file.

    Compared as they come, with no reordering: the import writes technicians, jobs and
    warehouses in the file's order into a fresh database, so their ids follow it, and the
    builder reads each in id order. (Technicians already stored by an earlier day would
    keep their older, smaller ids and come first: the same Problem up to that order.)
    """
    document = load_day(name)
    day = import_day(session, document)

    with sessions() as fresh:
        built = build_problem(fresh, day)

    assert built == scenario_problem(load_day(name))


@pytest.mark.parametrize(("day", "offset"), [("2026-03-29", "+02:00"), ("2026-10-25", "+01:00")])
def test_problem_matches_the_reader_on_a_day_the_clocks_change(
    session: Session, sessions: sessionmaker[Session], day: str, offset: str
) -> None:
    """On a daylight-saving day windows and SLA due times are wall-clock seconds, as the reader's."""
    document = load_day("oslo-5x30")
    document["date"] = day
    for item in document["jobs"]:
        if item["sla_due"] is not None:  # an afternoon due time: after the change either way
            item["sla_due"] = f"{day}T{item['sla_due'][11:19]}{offset}"
    import_day(session, document)

    with sessions() as fresh:
        built = build_problem(fresh, date.fromisoformat(day))

    expected = scenario_problem(document)
    assert any(j.sla_due is not None for j in expected.jobs)
    assert built == expected


def test_problem_agrees_with_the_export_after_the_day_moves_on(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Whatever happened to the day, the builder and the exported document give one Problem.

    The export cannot state jobs under way, so they are compared without fixed jobs.
    """
    day = import_day(session, load_day("stockholm-20x120"))
    first, second = session.scalars(select(Technician).order_by(Technician.id).limit(2))
    session.add(DayOff(technician=first, day=day, reason="sick"))
    pinned = job(session, "J-0010")
    pinned.pinned_technician = first  # pinned to someone off that day: planned unpinned
    dispatch_to(session, job(session, "J-0011"), second, 8)
    transition(session, job(session, "J-0011"), S.EN_ROUTE)
    transition(session, job(session, "J-0012"), S.CANCELLED, note="customer cancelled")
    transition(session, job(session, "J-0013"), S.ON_HOLD, hold_reason=HoldReason.AWAITING_PARTS)
    session.commit()

    with sessions() as fresh:
        built = build_problem(fresh, day)
        exported = export_scenario(fresh, day)

    assert without_fixed_jobs(built) == without_empty_stock(scenario_problem(exported))
    assert built.technician(second.code).fixed_jobs == ("J-0011",)
    # The parts of the job under way are with its technician, whatever the van held.
    under_way = built.job("J-0011")
    van = built.technician(second.code).van_stock
    exported_van = scenario_problem(exported).technician(second.code).van_stock
    assert all(
        van[sku] == exported_van.get(sku, 0) + quantity
        for sku, quantity in under_way.parts.items()
    )
    assert built.job("J-0010").pinned_to is None


def test_jobs_under_way_open_their_technicians_route_in_the_order_they_started(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """En route, on site and paused jobs become fixed jobs, ordered by their latest start.

    The planned order (J-0019 first) and the id order (J-0012 first) both differ from the
    order the technician started them in: J-0014, then J-0012 (turned back and restarted
    after J-0019), so J-0014, J-0019, J-0012.
    """
    day = import_day(session, load_day("oslo-5x30"))
    t01, t02 = technician(session, "T-01"), technician(session, "T-02")
    j12, j14, j19 = (job(session, ref) for ref in ("J-0012", "J-0014", "J-0019"))
    for planned_hour, item in ((10, j12), (9, j14), (8, j19)):
        dispatch_to(session, item, t01, planned_hour)
    for target in (S.EN_ROUTE, S.ON_SITE, S.PAUSED):
        transition(session, j14, target)
    transition(session, j12, S.EN_ROUTE)
    transition(session, j12, S.DISPATCHED)  # turned back on the way
    transition(session, j19, S.EN_ROUTE)
    transition(session, j19, S.ON_SITE)
    transition(session, j12, S.EN_ROUTE)
    other = job(session, "J-0002")
    dispatch_to(session, other, t02, 8)  # dispatched, not started: not fixed
    session.commit()

    with sessions() as fresh:
        problem = build_problem(fresh, day)

    assert problem.technician("T-01").fixed_jobs == ("J-0014", "J-0019", "J-0012")
    assert {t.id: t.fixed_jobs for t in problem.technicians if t.id != "T-01"} == {
        code: () for code in ("T-02", "T-03", "T-04", "T-05")
    }
    assert {"J-0012", "J-0014", "J-0019", "J-0002"} <= {j.id for j in problem.jobs}


def test_technicians_off_that_day_are_absent(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A technician with a day off, or with no working hours that weekday, is not in the Problem."""
    day = import_day(session, load_day("oslo-5x30"))
    session.add(DayOff(technician=technician(session, "T-02"), day=day, reason="training"))
    session.execute(
        delete(WorkingHours).where(
            WorkingHours.technician_id == technician(session, "T-05").id,
            WorkingHours.weekday == day.weekday(),
        )
    )
    session.commit()

    with sessions() as fresh:
        problem = build_problem(fresh, day)

    assert [t.id for t in problem.technicians] == ["T-01", "T-03", "T-04"]
    # J-0020 is pinned to T-05 in the file; with T-05 away it may go to anyone.
    assert problem.job("J-0020").pinned_to is None
    assert len(problem.jobs) == 30


def test_finished_and_cancelled_jobs_are_absent(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A completed or cancelled job is no longer planned; the day's other jobs still are."""
    day = import_day(session, load_day("oslo-5x30"))
    done = job(session, "J-0012")
    dispatch_to(session, done, technician(session, "T-01"), 8)
    for target in (S.EN_ROUTE, S.ON_SITE, S.COMPLETED):
        transition(session, done, target)
    transition(session, job(session, "J-0001"), S.CANCELLED, note="duplicate request")
    session.commit()

    with sessions() as fresh:
        problem = build_problem(fresh, day)

    ids = {j.id for j in problem.jobs}
    assert "J-0012" not in ids and "J-0001" not in ids
    assert len(ids) == 28


def test_a_job_under_way_with_a_technician_off_that_day_is_refused(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Work that has started is never re-planned silently: the error names job and technician."""
    day = import_day(session, load_day("oslo-5x30"))
    t01 = technician(session, "T-01")
    started = job(session, "J-0014")
    dispatch_to(session, started, t01, 8)
    transition(session, started, S.EN_ROUTE)
    session.add(DayOff(technician=t01, day=day, reason="sick"))
    session.commit()

    with sessions() as fresh, pytest.raises(PlanningError) as refused:
        build_problem(fresh, day)

    assert refused.value.problems == [
        "job J-0014: en_route with technician T-01, who does not work on 2026-11-24"
    ]


def test_a_day_without_service_day_or_with_an_unknown_travel_model_is_refused(
    session: Session,
) -> None:
    """A date never set up, or a travel rule the planner does not know, is a PlanningError."""
    with pytest.raises(PlanningError, match="no service day on 2026-11-24"):
        build_problem(session, date(2026, 11, 24))
    day = import_day(session, load_day("oslo-5x30"))
    settings = session.get(ServiceDay, day)
    assert settings is not None
    settings.travel_model = "osrm"
    session.flush()

    with pytest.raises(PlanningError, match="unknown travel model 'osrm'"):
        build_problem(session, day)


def test_the_built_problem_solves_to_a_plan_the_checker_accepts(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """One second of solving the built day, with jobs under way, gives a feasible plan."""
    day = import_day(session, load_day("oslo-5x30"))
    t01 = technician(session, "T-01")
    for planned_hour, reference in ((8, "J-0019"), (9, "J-0014")):
        dispatch_to(session, job(session, reference), t01, planned_hour)
        transition(session, job(session, reference), S.EN_ROUTE)
    transition(session, job(session, "J-0019"), S.ON_SITE)
    session.commit()

    with sessions() as fresh:
        problem = build_problem(fresh, day)
    solution = solve(problem, SolveParams(time_limit_s=1, workers=1))
    report = check(problem, solution)

    assert report.violations == ()
    route = next(r for r in solution.routes if r.technician == "T-01")
    assert [s.id for s in route.stops if s.id in ("J-0019", "J-0014")][:2] == ["J-0019", "J-0014"]


def test_building_takes_the_same_queries_however_many_jobs_are_under_way(
    engine: Engine, session: Session, sessions: sessionmaker[Session]
) -> None:
    """No query per technician or job: one job under way or four, the same dozen-odd queries."""
    day = import_day(session, load_day("stockholm-20x120"))
    technicians = session.scalars(select(Technician).order_by(Technician.id)).all()
    counts = []
    for batch in (["J-0001"], ["J-0002", "J-0003", "J-0004"]):
        for reference in batch:
            started = job(session, reference)
            started.pinned_technician = None
            dispatch_to(session, started, technicians[int(reference[-1])], 8)
            transition(session, started, S.EN_ROUTE)
        session.commit()
        with sessions() as fresh, counted_queries(engine) as statements:
            problem = build_problem(fresh, day)
        assert sum(len(t.fixed_jobs) for t in problem.technicians) == int(batch[-1][-1])
        counts.append(len(statements))

    assert counts[0] == counts[1] <= 17


# --- DayClock: the one conversion ---------------------------------------------------------


def test_clock_reads_instants_on_the_local_wall_clock() -> None:
    """Ticks are seconds on the local clock: 10:00 is 36,000 in winter and in summer time."""
    winter = DayClock.of(date(2026, 11, 24), "Europe/Oslo")
    summer = DayClock.of(date(2026, 3, 29), "Europe/Oslo")  # clocks go forward at 02:00

    assert winter.ticks(datetime(2026, 11, 24, 9, 0, tzinfo=UTC)) == 36_000
    assert summer.ticks(datetime(2026, 3, 29, 8, 0, tzinfo=UTC)) == 36_000
    assert winter.ticks(datetime(2026, 11, 23, 22, 30, tzinfo=UTC)) == -1_800  # overdue
    assert winter.ticks(datetime(2026, 11, 24, 9, 0, 0, 999_999, tzinfo=UTC)) == 36_000
    assert winter.clock_ticks(time(7, 30, 15)) == 27_015


@pytest.mark.parametrize("day", [date(2026, 11, 24), date(2026, 3, 29), date(2026, 10, 25)])
def test_clock_turns_ticks_back_into_the_same_instants(day: date) -> None:
    """``instant`` inverts ``ticks`` for every whole minute of a day, clock changes included.

    Not for the hour that a spring day skips: 02:30 does not exist and reads as 03:30.
    """
    clock = DayClock.of(day, "Europe/Oslo")
    skipped = range(2 * 3600, 3 * 3600) if day == date(2026, 3, 29) else range(0)
    for ticks in range(-3600, 26 * 3600, 60):
        if ticks in skipped:
            assert clock.ticks(clock.instant(ticks)) == ticks + 3600
        else:
            assert clock.ticks(clock.instant(ticks)) == ticks
    assert clock.instant(0).tzinfo == UTC


def test_clock_refuses_naive_instants_and_unknown_zones() -> None:
    """A naive datetime names no moment, and a zone must exist: both are ValueErrors."""
    clock = DayClock.of(date(2026, 11, 24), "Europe/Oslo")
    with pytest.raises(ValueError, match="naive datetime"):
        clock.ticks(datetime(2026, 11, 24, 9, 0))
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Atlantis'"):
        DayClock.of(date(2026, 11, 24), "Europe/Atlantis")


def test_a_replan_during_the_day_plans_from_now_on(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Nobody starts before now; a break whose window has passed is taken; other days whole."""
    day = import_day(session, load_day("oslo-5x30"))
    with sessions() as fresh:
        whole = build_problem(fresh, day)
        clock = DayClock.of(day, "Europe/Oslo")
        at_noon = build_problem(fresh, day, now=clock.instant(12 * 3600))
        late = build_problem(fresh, day, now=clock.instant(15 * 3600))
        next_day = build_problem(fresh, day, now=clock.instant(30 * 3600))

    assert next_day == whole
    for before, noon, afternoon in zip(
        whole.technicians, at_noon.technicians, late.technicians, strict=True
    ):
        assert noon.shift.start == max(before.shift.start, 12 * 3600)
        assert noon.shift.end == before.shift.end
        rule = before.break_rule
        if rule is not None and rule.window.start < 12 * 3600 <= rule.window.end:
            assert noon.break_rule is not None and noon.break_rule.window.start == 12 * 3600
        if rule is not None and rule.window.end < 15 * 3600:
            assert afternoon.break_rule is None
    assert any(t.break_rule is not None for t in whole.technicians)
    solution = solve(at_noon, SolveParams(time_limit_s=0.5, workers=1))
    assert check(at_noon, solution).feasible
    assert all(r.depart >= 12 * 3600 for r in solution.routes)


def test_parts_picked_up_before_work_under_way_are_in_the_van_not_the_warehouse(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """The published plan's warehouse calls before a job under way have been made."""
    from dispatch.planning import new_plan, publish

    day = import_day(session, load_day("stockholm-20x120"))
    problem = build_problem(session, day)
    solution = solve(problem, SolveParams(time_limit_s=1, workers=1))
    plan = new_plan(session, day, problem, solution, reason="test", created_by=None)
    publish(session, plan.id, user_id=None)
    session.commit()
    route, call, after = next(
        (r, s, next(t for t in r.stops[i:] if t.kind == StopKind.JOB))
        for r in solution.routes
        for i, s in enumerate(r.stops)
        if s.kind == StopKind.WAREHOUSE and any(t.kind == StopKind.JOB for t in r.stops[i:])
    )
    started = job(session, after.id)
    transition(session, started, S.DISPATCHED)
    transition(session, started, S.EN_ROUTE)
    session.commit()

    with sessions() as fresh:
        built = build_problem(fresh, day)

    van, van_before = (
        built.technician(route.technician).van_stock,
        problem.technician(route.technician).van_stock,
    )
    stock, stock_before = built.warehouse(call.id).stock, problem.warehouse(call.id).stock
    for sku, quantity in call.pickup.items():
        assert van.get(sku, 0) >= van_before.get(sku, 0) + quantity
        assert stock[sku] == max(0, stock_before[sku] - quantity)

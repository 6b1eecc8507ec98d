"""Manual edits: each kind publishes the next version; hard rules refuse, lateness warns."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import JobStatus, PlanStatus
from dispatch.lifecycle import transition
from dispatch.models import DayPlan, Event, Job, Plan
from dispatch.planning.edits import EditRefused, assign, move, pin, unassign, unpin
from dispatch.planning.problem import build_problem
from dispatch.planning.proposals import new_plan, published
from dispatch.planning.publish import ROUTE_EVENT, StalePlan, publish
from optimizer import (
    PlanReader,
    Problem,
    Route,
    Solution,
    SolveParams,
    check_plan_document,
    insertion_candidates,
    may_serve,
    retime_route,
    solve,
)
from tests.dispatch.test_planning_problem import import_day, load_day
from tests.helpers import race


@pytest.fixture
def oslo(sessions: sessionmaker[Session]) -> date:
    """oslo-5x30 planned and published: version 1."""
    with sessions() as session:
        day = import_day(session, load_day("oslo-5x30"))
        propose_and_publish(session, day)
        session.commit()
    return day


def propose(session: Session, day: date) -> Plan:
    problem = build_problem(session, day)
    solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
    return new_plan(session, day, problem, solution, reason="test", created_by=None)


def propose_and_publish(session: Session, day: date) -> Plan:
    return publish(session, propose(session, day).id, user_id=None)


def routes(session: Session, day: date) -> dict[str, list[str]]:
    """Each technician's jobs in the published plan, in order."""
    current = published(session, day)
    assert current is not None
    return {
        r["technician"]: [s["id"] for s in r["stops"] if s["type"] == "job"]
        for r in current[1].document["routes"]
    }


def holder(session: Session, day: date, job: str) -> str | None:
    return next((t for t, jobs in routes(session, day).items() if job in jobs), None)


def job_row(session: Session, reference: str) -> Job:
    found = session.scalar(select(Job).where(Job.reference == reference))
    assert found is not None
    return found


def state(session: Session, day: date) -> dict[str, Any]:
    """What an edit may change: the version, the plans, each job's assignment and pin."""
    session.expire_all()
    return {
        "version": session.scalar(select(DayPlan.version).where(DayPlan.service_date == day)),
        "plans": session.scalar(select(func.count()).select_from(Plan)),
        "jobs": {
            j.reference: (j.status, j.technician_id, j.planned_start, j.pinned_technician_id)
            for j in session.scalars(select(Job))
        },
    }


def another_able(problem: Problem, job: str, besides: str | None) -> str:
    """A technician other than ``besides`` who has the job's skills."""
    wanted = problem.job(job)
    return next(t.id for t in problem.technicians if t.id != besides and may_serve(t, wanted))


def movable(session: Session, day: date) -> tuple[str, str, str, int]:
    """A routed job, its technician, and another who has room for it, and where.

    Found with the engine's emergency insertion on the published plan without the job.
    """
    problem = build_problem(session, day)
    current = published(session, day)
    assert current is not None
    plan = PlanReader(problem).solution(current[1].document)
    assert plan is not None
    for route in plan.routes:
        for job in route.job_ids:
            rest = tuple(s for s in route.stops if s.id != job)
            shorter = retime_route(problem, plan, Route(route.technician, 0, 0, rest))
            others = tuple(r for r in plan.routes if r.technician != route.technician)
            without = Solution((*others, shorter), plan.unassigned)
            for candidate in insertion_candidates(problem, without, job, limit=None):
                if candidate.technician != route.technician:
                    return job, route.technician, candidate.technician, candidate.position
    raise AssertionError("no job another technician has room for")


def test_unassign_then_assign_elsewhere_publishes_each_version(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        job, _, second, at = movable(session, oslo)
        taken = unassign(session, oslo, job, expected_version=1, user_id=None)
        session.commit()
        assert taken.plan.version == 2 and taken.plan.status == PlanStatus.PUBLISHED
        assert taken.plan.diff["removed"] == [job]
        left_out = {u["id"]: u["reason"] for u in taken.plan.document["unassigned"]}
        assert left_out[job] == "taken off the plan by a dispatcher"
        row = job_row(session, job)
        assert (row.status, row.technician_id) == (JobStatus.TRIAGED, None)
        event = session.scalars(
            select(Event).where(Event.entity_type == ROUTE_EVENT).order_by(Event.id.desc())
        ).first()
        assert event is not None and event.changes["removed"] == [job]
        assert event.changes["reason"] == f"manual edit: unassign {job}"

        given = assign(session, oslo, job, second, at, expected_version=2, user_id=None)
        session.commit()
        assert given.plan.version == 3 and routes(session, oslo)[second].index(job) == at
        session.refresh(row)
        assert row.status == JobStatus.SCHEDULED and row.technician.code == second  # type: ignore[union-attr]
        assert check_plan_document(build_problem(session, oslo), given.plan.document).feasible


def test_move_to_another_technician_and_within_a_route(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        job, first, second, _ = movable(session, oslo)
        moved = move(session, oslo, job, second, expected_version=1, user_id=None)
        session.commit()
        assert moved.plan.diff["moved"] == [{"job": job, "from": first, "to": second}]
        assert holder(session, oslo, job) == second
        assert job_row(session, job).technician.code == second  # type: ignore[union-attr]

        assert resequence(session, oslo, second, expected_version=2)


def resequence(session: Session, day: date, technician: str, *, expected_version: int) -> bool:
    """Move one of the technician's jobs to another place in their route, the first that fits."""
    jobs = routes(session, day)[technician]
    for job in jobs:
        for position in range(len(jobs)):
            if position == jobs.index(job):
                continue
            try:
                edited = move(
                    session,
                    day,
                    job,
                    technician,
                    position,
                    expected_version=expected_version,
                    user_id=None,
                )
            except EditRefused:
                continue
            session.commit()
            assert routes(session, day)[technician].index(job) == position
            assert edited.plan.diff["resequenced"] == [technician]
            assert edited.plan.diff["moved"] == []
            return True
    return False


def test_pin_moves_the_job_and_every_later_plan_keeps_it_there(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        job, first, second, _ = movable(session, oslo)
        pinned = pin(session, oslo, job, second, expected_version=1, user_id=None)
        session.commit()
        assert pinned.plan.version == 2 and holder(session, oslo, job) == second
        assert job_row(session, job).pinned_technician.code == second  # type: ignore[union-attr]
        assert build_problem(session, oslo).job(job).pinned_to == second

        with pytest.raises(EditRefused) as refused:
            move(session, oslo, job, first, expected_version=2, user_id=None)
        assert [v.cause for v in refused.value.violations] == ["pinned"]
        session.rollback()

        before = routes(session, oslo)
        lifted = unpin(session, oslo, job, expected_version=2, user_id=None)
        session.commit()
        assert lifted.plan.version == 3 and routes(session, oslo) == before
        assert job_row(session, job).pinned_technician_id is None
        move(session, oslo, job, first, expected_version=3, user_id=None)
        session.commit()
        assert holder(session, oslo, job) == first


def test_pin_without_a_technician_pins_to_the_route_it_is_in(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        job, first, _, _ = movable(session, oslo)
        before = routes(session, oslo)
        pinned = pin(session, oslo, job, expected_version=1, user_id=None)
        session.commit()
        assert pinned.plan.version == 2 and routes(session, oslo) == before
        assert job_row(session, job).pinned_technician.code == first  # type: ignore[union-attr]


def test_a_technician_without_the_skill_is_refused_and_nothing_changes(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        problem = build_problem(session, oslo)
        job, unable = next(
            (j.id, t.id)
            for j in problem.jobs
            for t in problem.technicians
            if holder(session, oslo, j.id) and not j.skills <= t.skills
        )
        before = state(session, oslo)
        with pytest.raises(EditRefused) as refused:
            move(session, oslo, job, unable, expected_version=1, user_id=None)
        session.rollback()
        (violation,) = refused.value.violations
        assert violation.cause == "skills" and f"which {unable} lacks" in violation.message
        assert state(session, oslo) == before


def test_a_job_outside_the_shift_cannot_be_timed_and_nothing_changes(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """A window of 19:00-20:00 Oslo time is after every shift: the schedule says why."""
    with sessions() as session:
        job, first, _, _ = movable(session, oslo)
        unassign(session, oslo, job, expected_version=1, user_id=None)
        row = job_row(session, job)
        row.window_start = datetime.combine(oslo, time(18), tzinfo=UTC)
        row.window_end = datetime.combine(oslo, time(19), tzinfo=UTC)
        session.commit()
        before = state(session, oslo)
        with pytest.raises(EditRefused) as refused:
            assign(session, oslo, job, first, expected_version=2, user_id=None)
        session.rollback()
        (violation,) = refused.value.violations
        assert violation.cause == "schedule" and violation.technician == first
        shift_end = next(
            t["shift"][1] for t in load_day("oslo-5x30")["technicians"] if t["id"] == first
        )
        assert f"after the shift ends at {shift_end}" in violation.message
        assert state(session, oslo) == before


def test_the_checker_refuses_edits_while_the_plan_breaks_a_rule_until_that_is_fixed(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """A routed job's window moved to 06:00-07:00 since publishing: the whole plan is checked,
    so an edit of another route is refused with the checker's reason; taking that job off is not."""
    with sessions() as session:
        job, first, _, _ = movable(session, oslo)
        other = next(j for t, jobs in routes(session, oslo).items() if t != first for j in jobs)
        row = job_row(session, job)
        row.window_start = datetime.combine(oslo, time(5), tzinfo=UTC)
        row.window_end = datetime.combine(oslo, time(6), tzinfo=UTC)
        session.commit()
        before = state(session, oslo)
        with pytest.raises(EditRefused) as refused:
            unassign(session, oslo, other, expected_version=1, user_id=None)
        session.rollback()
        assert [(v.cause, v.technician, v.stop) for v in refused.value.violations] == [
            ("window", first, job)
        ]
        assert "outside its window 06:00-07:00" in refused.value.violations[0].message
        assert state(session, oslo) == before
        assert unassign(session, oslo, job, expected_version=1, user_id=None).plan.version == 2


def test_added_lateness_applies_with_a_warning(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """A job due at 08:00, when shifts start, put back where it was: done, late, and said so."""
    with sessions() as session:
        job, first, _, _ = movable(session, oslo)
        was_at = routes(session, oslo)[first].index(job)
        unassign(session, oslo, job, expected_version=1, user_id=None)
        job_row(session, job).sla_due = datetime.combine(oslo, time(7), tzinfo=UTC)
        session.commit()
        result = assign(session, oslo, job, first, was_at, expected_version=2, user_id=None)
        session.commit()
        assert result.plan.version == 3 and holder(session, oslo, job) == first
        (warning,) = result.warnings
        assert (warning.cause, warning.technician, warning.stop) == ("late", first, job)
        assert "after its SLA due time 08:00" in warning.message
        assert result.plan.summary["late_minutes"] > 0


def test_an_edit_before_the_first_publish_starts_from_an_empty_plan(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        day = import_day(session, load_day("oslo-5x30"))
        problem = build_problem(session, day)
        job = problem.jobs[0].id
        technician = another_able(problem, job, None)
        result = assign(session, day, job, technician, expected_version=0, user_id=None)
        session.commit()
        assert result.plan.version == 1 and routes(session, day) == {technician: [job]}
        assert len(result.plan.document["unassigned"]) == len(problem.jobs) - 1
        assert job_row(session, job).status == JobStatus.SCHEDULED


def test_work_under_way_stays_where_it_is(sessions: sessionmaker[Session], oslo: date) -> None:
    with sessions() as session:
        job, first, second, _ = movable(session, oslo)
        row = job_row(session, job)
        transition(session, row, JobStatus.DISPATCHED)
        transition(session, row, JobStatus.EN_ROUTE)
        session.commit()
        for edit in (
            lambda: move(session, oslo, job, second, expected_version=1, user_id=None),
            lambda: unassign(session, oslo, job, expected_version=1, user_id=None),
            lambda: pin(session, oslo, job, second, expected_version=1, user_id=None),
        ):
            with pytest.raises(EditRefused) as refused:
                edit()
            assert [v.cause for v in refused.value.violations] == ["fixed_jobs"]
        pinned = pin(session, oslo, job, expected_version=1, user_id=None)
        session.commit()
        assert pinned.plan.version == 2 and routes(session, oslo)[first][0] == job


@pytest.mark.parametrize(
    ("job", "technician", "position", "cause"),
    [
        ("J-9999", "T-01", None, "unknown_job"),
        (None, "T-99", None, "unknown_technician"),
        (None, None, 99, "position"),
    ],
)
def test_unknown_names_and_bad_positions_are_refused(
    sessions: sessionmaker[Session],
    oslo: date,
    job: str | None,
    technician: str | None,
    position: int | None,
    cause: str,
) -> None:
    with sessions() as session:
        routed, first, _, _ = movable(session, oslo)
        before = state(session, oslo)
        with pytest.raises(EditRefused) as refused:
            move(
                session,
                oslo,
                job or routed,
                technician or first,
                position,
                expected_version=1,
                user_id=None,
            )
        session.rollback()
        assert [v.cause for v in refused.value.violations] == [cause]
        assert state(session, oslo) == before


def test_assign_and_move_say_which_one_the_job_needs(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        job, _, second, _ = movable(session, oslo)
        with pytest.raises(EditRefused, match="move it instead"):
            assign(session, oslo, job, second, expected_version=1, user_id=None)
        unassign(session, oslo, job, expected_version=1, user_id=None)
        with pytest.raises(EditRefused, match="assign it instead"):
            move(session, oslo, job, second, expected_version=2, user_id=None)


def test_an_edit_on_an_older_version_is_stale(sessions: sessionmaker[Session], oslo: date) -> None:
    with sessions() as session:
        job, _, _, _ = movable(session, oslo)
        before = state(session, oslo)
        with pytest.raises(StalePlan) as stale:
            unassign(session, oslo, job, expected_version=0, user_id=None)
        assert (stale.value.expected, stale.value.current) == (0, 1)
        assert state(session, oslo) == before


def test_two_dispatchers_editing_at_once_one_wins(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        first_job, _, _, _ = movable(session, oslo)
        other_job = next(
            j for jobs in routes(session, oslo).values() for j in jobs if j != first_job
        )
    jobs = [first_job, other_job]

    def edit_one(session: Session) -> str:
        try:
            unassign(session, oslo, jobs.pop(), expected_version=1, user_id=None)
        except StalePlan:
            session.rollback()
            return "409"
        return "edited"

    assert sorted(race(sessions, 2, edit_one, hold_s=0.3)) == ["409", "edited"]
    with sessions() as session:
        assert session.get(DayPlan, oslo).version == 2  # type: ignore[union-attr]
        unrouted = [j for j in (first_job, other_job) if holder(session, oslo, j) is None]
        assert len(unrouted) == 1
        assert job_row(session, unrouted[0]).status == JobStatus.TRIAGED


def test_publishing_and_editing_at_once_one_wins(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        job, _, _, _ = movable(session, oslo)
        proposal = propose(session, oslo).id
        session.commit()
    turns = ["publish", "edit"]

    def publish_or_edit(session: Session) -> str:
        turn = turns.pop()
        try:
            if turn == "publish":
                publish(session, proposal, user_id=None)
            else:
                unassign(session, oslo, job, expected_version=1, user_id=None)
        except StalePlan:
            session.rollback()
            return f"{turn}: 409"
        return f"{turn}: done"

    outcomes = race(sessions, 2, publish_or_edit, hold_s=0.3)
    assert sorted(o.split(": ")[1] for o in outcomes) == ["409", "done"]
    with sessions() as session:
        assert session.get(DayPlan, oslo).version == 2  # type: ignore[union-attr]
        winner = next(o.split(": ")[0] for o in outcomes if o.endswith("done"))
        status = session.get(Plan, proposal).status  # type: ignore[union-attr]
        assert status == (PlanStatus.PUBLISHED if winner == "publish" else PlanStatus.PROPOSED)

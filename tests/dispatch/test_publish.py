"""Proposals and publishing: one transaction, the lifecycle, route events, 409 on stale plans."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import JobStatus, PlanStatus
from dispatch.field_models import FeedEvent
from dispatch.lifecycle import transition
from dispatch.models import DayPlan, Event, Job, Plan
from dispatch.planning import (
    ROUTE_EVENT,
    ROUTE_PUBLISHED,
    ProposalClosed,
    StalePlan,
    build_problem,
    discard,
    new_plan,
    publish,
    published,
    request_run,
    routes_of,
    save_proposal,
    start_run,
)
from optimizer import Problem, Solution, SolveParams, solve
from tests.dispatch.test_planning_problem import import_day, load_day
from tests.helpers import race

S = JobStatus


@pytest.fixture
def oslo(sessions: sessionmaker[Session]) -> date:
    with sessions() as session:
        return import_day(session, load_day("oslo-5x30"))


def planned(session: Session, day: date, seconds: float = 0.5) -> tuple[Problem, Solution]:
    problem = build_problem(session, day)
    return problem, solve(problem, SolveParams(time_limit_s=seconds, workers=1))


def propose(session: Session, day: date, reason: str = "test") -> Plan:
    problem, solution = planned(session, day)
    return new_plan(session, day, problem, solution, reason=reason, created_by=None)


def jobs_by_reference(session: Session) -> dict[str, Job]:
    return {job.reference: job for job in session.scalars(select(Job))}


def test_publishing_schedules_every_routed_job_with_its_planned_times(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        plan = propose(session, oslo)
        assert plan.base_version == 0 and plan.diff["deltas"] == {}
        assert sorted(plan.diff["added"]) == sorted(
            job for route in plan.document["routes"] for job in _job_ids(route)
        )
        publish(session, plan.id, user_id=None)
        session.commit()
    with sessions() as session:
        jobs = jobs_by_reference(session)
        day_plan = session.get(DayPlan, oslo)
        assert day_plan is not None and (day_plan.version, day_plan.plan_id) == (1, plan.id)
        stored = session.get(Plan, plan.id)
        assert stored is not None and stored.status == PlanStatus.PUBLISHED and stored.version == 1
        for route in stored.document["routes"]:
            for stop in route["stops"]:
                if stop["type"] != "job":
                    continue
                job = jobs[stop["id"]]
                assert job.status == S.SCHEDULED
                assert job.technician is not None and job.technician.code == route["technician"]
                assert job.planned_start is not None
                assert job.planned_start.isoformat() == _utc(stop["start"])
        unrouted = {u["id"] for u in stored.document["unassigned"]}
        assert all(jobs[reference].status == S.TRIAGED for reference in unrouted)
        events = session.scalars(select(Event).where(Event.entity_type == ROUTE_EVENT)).all()
        assert sorted(e.changes["technician"] for e in events) == sorted(
            route["technician"] for route in stored.document["routes"] if _job_ids(route)
        )
        for event in events:
            route = next(
                r
                for r in stored.document["routes"]
                if r["technician"] == event.changes["technician"]
            )
            assert event.changes["added"] == _job_ids(route)
            assert event.changes["removed"] == [] and event.changes["version"] == 1
        published = session.scalars(
            select(FeedEvent).where(FeedEvent.kind == ROUTE_PUBLISHED).order_by(FeedEvent.id)
        ).all()
        assert sorted(entry.payload["technician"] for entry in published) == sorted(
            e.changes["technician"] for e in events
        )
        assert all(entry.service_date == oslo for entry in published)
        first_job_entry = session.scalar(
            select(func.min(FeedEvent.id)).where(FeedEvent.kind != ROUTE_PUBLISHED)
        )
        assert first_job_entry is not None and first_job_entry < published[0].id


def test_a_later_proposal_moves_jobs_back_and_supersedes_the_published_plan(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        first = propose(session, oslo)
        publish(session, first.id, user_id=None)
        session.commit()
        # One technician calls in sick: their route's jobs must move or wait.
        problem, solution = planned(session, oslo)
        sick = solution.routes[0].technician
        kept = Solution(
            routes=tuple(r for r in solution.routes if r.technician != sick),
            unassigned=solution.unassigned,
        )
        dropped = set(solution.routes[0].job_ids)
        second = new_plan(
            session, oslo, problem, _with_unassigned(kept, dropped), reason="x", created_by=None
        )
        assert second.base_version == 1
        assert set(second.diff["removed"]) == _routed(first) - _routed(second)
        assert dropped <= _routed(first) | {u["id"] for u in first.document["unassigned"]}
        publish(session, second.id, user_id=None)
        session.commit()
    with sessions() as session:
        jobs = jobs_by_reference(session)
        assert all(jobs[reference].status == S.TRIAGED for reference in dropped)
        assert all(jobs[reference].technician_id is None for reference in dropped)
        assert session.get(Plan, first.id).status == PlanStatus.SUPERSEDED  # type: ignore[union-attr]
        assert session.get(DayPlan, oslo).version == 2  # type: ignore[union-attr]


def test_publishing_a_proposal_built_on_an_older_plan_is_refused_and_changes_nothing(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        first = propose(session, oslo)
        rival = propose(session, oslo)
        publish(session, first.id, user_id=None)
        session.commit()
        before = {j.reference: (j.status, j.technician_id) for j in session.scalars(select(Job))}
        with pytest.raises(StalePlan) as refused:
            publish(session, rival.id, user_id=None)
        assert (refused.value.expected, refused.value.current) == (0, 1)
        session.rollback()
        after = {j.reference: (j.status, j.technician_id) for j in session.scalars(select(Job))}
        assert after == before
        assert session.get(Plan, rival.id).status == PlanStatus.PROPOSED  # type: ignore[union-attr]
        with pytest.raises(ProposalClosed):
            publish(session, first.id, user_id=None)


def test_two_dispatchers_publishing_at_once_one_wins(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        base = propose(session, oslo)
        publish(session, base.id, user_id=None)
        session.commit()
        rivals = [propose(session, oslo).id, propose(session, oslo).id]
        session.commit()
    remaining = list(rivals)

    def publish_one(session: Session) -> str:
        try:
            publish(session, remaining.pop(), user_id=None)
        except StalePlan:
            session.rollback()
            return "409"
        return "published"

    outcomes = race(sessions, 2, publish_one, hold_s=0.3)
    assert sorted(outcomes) == ["409", "published"]
    with sessions() as session:
        assert session.get(DayPlan, oslo).version == 2  # type: ignore[union-attr]
        statuses = sorted(session.get(Plan, i).status for i in rivals)  # type: ignore[union-attr]
        assert statuses == [PlanStatus.PROPOSED, PlanStatus.PUBLISHED]


def test_a_job_under_way_keeps_its_technician_and_only_takes_new_times(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        first = propose(session, oslo)
        publish(session, first.id, user_id=None)
        session.commit()
        route = first.document["routes"][0]
        reference = _job_ids(route)[0]
        job = jobs_by_reference(session)[reference]
        transition(session, job, S.DISPATCHED)
        transition(session, job, S.EN_ROUTE)
        session.commit()
        problem, solution = planned(session, oslo)
        assert solution.route_of(route["technician"]).job_ids[0] == reference  # type: ignore[union-attr]
        second = new_plan(session, oslo, problem, solution, reason="x", created_by=None)
        publish(session, second.id, user_id=None)
        session.commit()
        session.refresh(job)
        assert job.status == S.EN_ROUTE and job.technician.code == route["technician"]  # type: ignore[union-attr]


def test_a_replan_starts_from_the_published_routes(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        first = propose(session, oslo)
        publish(session, first.id, user_id=None)
        session.commit()
        problem = build_problem(session, oslo)
        start = routes_of(first.document, problem)
        assert {r.technician: r.job_ids for r in start.routes} == {
            r["technician"]: tuple(_job_ids(r)) for r in first.document["routes"]
        }


def test_a_run_asked_to_publish_itself_does_so_unless_the_plan_moved_on(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        run = request_run(session, oslo, time_limit_s=1, requested_by=None, auto_publish=True)
        start_run(session, run.id)
        problem, solution = planned(session, oslo)
        plan = save_proposal(session, run, problem, solution)
        session.commit()
        assert plan.status == PlanStatus.PUBLISHED and plan.run_id == run.id
        current = published(session, oslo)
        assert current is not None and current[1].id == plan.id


def test_a_discarded_proposal_cannot_be_published(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        plan = propose(session, oslo)
        discard(session, plan.id, user_id=None)
        session.commit()
        with pytest.raises(ProposalClosed):
            publish(session, plan.id, user_id=None)
        assert session.get(DayPlan, oslo) is None


def _job_ids(route: dict) -> list[str]:  # type: ignore[type-arg]
    return [s["id"] for s in route["stops"] if s["type"] == "job"]


def _routed(plan: Plan) -> set[str]:
    return {job for route in plan.document["routes"] for job in _job_ids(route)}


def _with_unassigned(solution: Solution, jobs: set[str]) -> Solution:
    from optimizer import Reason, Unassigned

    extra = tuple(Unassigned(j, Reason.CAPACITY, "technician off sick") for j in sorted(jobs))
    return Solution(routes=solution.routes, unassigned=solution.unassigned + extra)


def _utc(instant: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()

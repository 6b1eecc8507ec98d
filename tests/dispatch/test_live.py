"""Live re-planning: the policy, re-plan requests (queued, joined, deferred), the triggers
of new and cancelled jobs, a technician unavailable, and the nightly plan.

Every test runs on SQLite and on PostgreSQL, on the oslo-5x30 day (Tuesday 2026-11-24,
Europe/Oslo) planned and published.
"""

from __future__ import annotations

import threading
import time as clock
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import JobStatus, PlanStatus, Priority, RunState
from dispatch.lifecycle import transition
from dispatch.models import DayOff, Event, Job, Plan, PlanRun, ServiceDay, Technician
from dispatch.planning.live import (
    ALERT_EVENT,
    NIGHTLY_REASON,
    REPLAN_EVENT,
    WORK_STOPPED,
    plan_next_working_day,
    replan_on_changes,
    request_replan,
    settle_deferred,
    technician_unavailable,
)
from dispatch.planning.policy import DEFAULT_REPLAN_TIME_LIMIT_S, ReplanPolicy
from dispatch.planning.problem import build_problem
from dispatch.planning.publish import publish
from dispatch.planning.runs import cancel_run, fail_run, finish_run, start_run
from tests.dispatch.test_planning_problem import import_day, load_day
from tests.dispatch.test_publish import propose
from tests.helpers import make_job

S = JobStatus
P = Priority
DAY = date(2026, 11, 24)  # a Tuesday: the only weekday the oslo technicians work
OSLO = ZoneInfo("Europe/Oslo")


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """An instant of ``day`` on the Oslo clock."""
    return datetime.combine(day, time(hour, minute), tzinfo=OSLO)


def publish_oslo(sessions: sessionmaker[Session]) -> date:
    """Import the oslo-5x30 day, plan and publish it (version 1); its date."""
    with sessions() as session:
        day = import_day(session, load_day("oslo-5x30"))
        publish(session, propose(session, day).id, user_id=None)
        session.commit()
    return day


@pytest.fixture
def published_day(sessions: sessionmaker[Session]) -> date:
    return publish_oslo(sessions)


def busiest_route(session: Session, day: date) -> tuple[Technician, list[Job]]:
    """The technician with the most jobs in the published plan, and those jobs in order."""
    routes: dict[int, list[Job]] = {}
    for job in session.scalars(
        select(Job)
        .where(Job.service_date == day, Job.technician_id.is_not(None))
        .order_by(Job.planned_start, Job.id)
    ):
        assert job.technician_id is not None
        routes.setdefault(job.technician_id, []).append(job)
    technician_id, jobs = max(routes.items(), key=lambda item: len(item[1]))
    return session.get_one(Technician, technician_id), jobs


def start(session: Session, job: Job, status: JobStatus = S.ON_SITE) -> None:
    """Move a scheduled job on to ``status`` through the lifecycle."""
    for step in (S.DISPATCHED, S.EN_ROUTE, S.ON_SITE, S.PAUSED):
        if job.status == status:
            return
        transition(session, job, step)


def new_job(
    session: Session, reference: str, priority: Priority, *, skills: list[str] | None = None
) -> Job:
    """A triaged one-hour job in Oslo for the day, as intake leaves one."""
    job = make_job(session, reference=reference, status=S.TRIAGED)
    job.service_date, job.priority, job.required_skills = DAY, priority, skills or []
    session.flush()
    return job


def replan_log(session: Session) -> list[tuple[str, dict[str, object]]]:
    """The re-plan requests logged, oldest first: (action, entry)."""
    return [
        (event.action, event.changes)
        for event in session.scalars(
            select(Event).where(Event.entity_type == REPLAN_EVENT).order_by(Event.id)
        )
    ]


def runs(session: Session) -> list[PlanRun]:
    return list(session.scalars(select(PlanRun).order_by(PlanRun.id)))


# -- the policy ---------------------------------------------------------------------------


def test_the_policy_publishes_emergencies_by_default_and_reads_the_environment() -> None:
    assert ReplanPolicy.from_env({}) == ReplanPolicy(
        frozenset({P.EMERGENCY}), DEFAULT_REPLAN_TIME_LIMIT_S
    )
    assert ReplanPolicy.from_env(
        {"FIELDOPS_AUTO_PUBLISH": " High, emergency ", "FIELDOPS_REPLAN_TIME_LIMIT_S": "3"}
    ) == ReplanPolicy(frozenset({P.HIGH, P.EMERGENCY}), 3)
    assert ReplanPolicy.from_env({"FIELDOPS_AUTO_PUBLISH": "none"}).auto_publish == frozenset()
    assert ReplanPolicy.from_env({"FIELDOPS_AUTO_PUBLISH": ""}).auto_publish == frozenset()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("FIELDOPS_AUTO_PUBLISH", "emergency,urgent", "urgent"),
        ("FIELDOPS_REPLAN_TIME_LIMIT_S", "0", "'0'"),
        ("FIELDOPS_REPLAN_TIME_LIMIT_S", "ten", "'ten'"),
    ],
)
def test_the_policy_refuses_values_it_cannot_read(variable: str, value: str, named: str) -> None:
    with pytest.raises(ValueError, match=variable) as refused:
        ReplanPolicy.from_env({variable: value})
    assert named in str(refused.value)


# -- requests: queued, joined, deferred ---------------------------------------------------


def test_a_replan_is_queued_from_the_published_plan_and_the_policy_decides_publishing(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        run = request_replan(session, published_day, "new emergency E-1", P.EMERGENCY)
        assert run is not None
        assert (run.state, run.replan, run.auto_publish) == (RunState.QUEUED, True, True)
        assert (run.time_limit_s, run.requested_by_id, run.reason) == (
            DEFAULT_REPLAN_TIME_LIMIT_S,
            None,
            "new emergency E-1",
        )
        on_postgresql = session.get_bind().dialect.name == "postgresql"
        assert (run.queue_job_id is not None) == on_postgresql  # through the job queue
        cancel_run(session, run.id)
        normal = request_replan(session, published_day, "overrun", P.NORMAL)
        assert normal is not None and normal.auto_publish is False
        cancel_run(session, normal.id)
        mine = ReplanPolicy(frozenset({P.HIGH}), time_limit_s=3)
        high = request_replan(session, published_day, "high", P.HIGH, policy=mine)
        assert high is not None and (high.auto_publish, high.time_limit_s) == (True, 3)
        session.commit()
        assert [action for action, _ in replan_log(session)] == ["requested"] * 3
        assert replan_log(session)[0][1] == {
            "reason": "new emergency E-1",
            "priority": "emergency",
            "trigger": None,
            "covers": [],
            "run_id": run.id,
        }


def test_a_queued_run_is_joined_and_publishes_itself_if_any_request_says_so(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        first = request_replan(session, published_day, "job J-0003 cancelled", P.NORMAL)
        session.commit()
        second = request_replan(session, published_day, "new emergency E-1", P.EMERGENCY)
        session.commit()
        assert first is not None and second is not None and second.id == first.id
    with sessions() as session:
        (run,) = runs(session)
        assert run.auto_publish is True
        assert run.reason == "job J-0003 cancelled; new emergency E-1"
        assert [action for action, _ in replan_log(session)] == ["requested", "joined"]


def test_a_request_while_a_run_solves_is_deferred_and_settled_once_the_run_ends(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    now = at(10)
    with sessions() as session:
        running = request_replan(session, published_day, "first", P.NORMAL)
        assert running is not None
        start_run(session, running.id)
        session.commit()
        assert request_replan(session, published_day, "new emergency E-1", P.EMERGENCY) is None
        assert request_replan(session, published_day, "job J-0003 cancelled", P.LOW) is None
        session.commit()
        assert settle_deferred(session, now=now) == []  # still running: nothing to do yet
        fail_run(session, running.id, "stopped")
        session.commit()

        (settled,) = settle_deferred(session, now=now)
        session.commit()
        assert settled.reason == "new emergency E-1; job J-0003 cancelled"
        assert settled.priority == P.EMERGENCY and settled.run_id is not None
        owed = session.get_one(PlanRun, settled.run_id)
        assert (owed.state, owed.replan, owed.auto_publish) == (RunState.QUEUED, True, True)

        cancel_run(session, owed.id)
        session.commit()
        assert settle_deferred(session, now=now) == []  # served: asked once
        assert [action for action, _ in replan_log(session)] == [
            "requested",
            "deferred",
            "deferred",
            "requested",
        ]
        assert len(runs(session)) == 2


@pytest.mark.postgresql_only
def test_the_run_a_request_defers_to_cannot_end_before_the_deferral_is_committed(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    """Else a run queued after it might read the day before the deferred change: lost."""
    with sessions() as session:
        running = request_replan(session, published_day, "first", P.NORMAL)
        assert running is not None
        start_run(session, running.id)
        session.commit()
        run_id = running.id
    deferred = threading.Event()
    committed_at: list[float] = []
    ended_at: list[float] = []

    def defer() -> None:
        with sessions() as session:
            assert request_replan(session, published_day, "emergency", P.EMERGENCY) is None
            deferred.set()
            clock.sleep(0.5)
            committed_at.append(clock.monotonic())
            session.commit()

    def finish() -> None:
        assert deferred.wait(10)
        with sessions() as session:
            finish_run(session, run_id)
            session.commit()
            ended_at.append(clock.monotonic())

    threads = [threading.Thread(target=defer), threading.Thread(target=finish)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert committed_at and ended_at and ended_at[0] >= committed_at[0]


# -- triggers: new and cancelled jobs -----------------------------------------------------


def test_a_new_emergency_on_a_published_day_asks_for_a_replan_once(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        emergency = new_job(session, "E-1", P.EMERGENCY)
        high = new_job(session, "E-2", P.HIGH)
        session.commit()
        replans = replan_on_changes(session, now=at(9))
        session.commit()
        assert [(r.trigger, r.priority) for r in replans] == [
            (f"added:{emergency.id}", P.EMERGENCY),
            (f"added:{high.id}", P.HIGH),
        ]
        (run,) = runs(session)
        assert replans[0].run_id == replans[1].run_id == run.id
        assert (
            run.replan
            and run.auto_publish
            and run.reason == "new emergency job E-1; new high job E-2"
        )
        assert replan_on_changes(session, now=at(9, 1)) == []
        assert [action for action, _ in replan_log(session)] == ["requested", "joined"]


def test_normal_jobs_unpublished_days_and_past_days_ask_for_nothing(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        new_job(session, "N-1", P.NORMAL)
        session.commit()
        assert replan_on_changes(session, now=at(9)) == []
        late = new_job(session, "E-1", P.EMERGENCY)
        session.commit()
        assert replan_on_changes(session, now=at(9, day=DAY + timedelta(days=1))) == []
        late.service_date = DAY + timedelta(days=7)  # no plan published for that day
        session.commit()
        assert replan_on_changes(session, now=at(9)) == []
        assert runs(session) == []


def test_an_urgent_job_the_published_plan_left_out_asks_for_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        day = import_day(session, load_day("oslo-5x30"))
        new_job(session, "R-1", P.HIGH, skills=["roofing"])  # nobody has the skill
        plan = propose(session, day)
        assert "R-1" in {entry["id"] for entry in plan.document["unassigned"]}
        publish(session, plan.id, user_id=None)
        session.commit()
        assert replan_on_changes(session, now=at(9)) == []


def test_a_cancelled_job_of_the_published_plan_asks_for_a_replan_once(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        _, jobs = busiest_route(session, published_day)
        routed = jobs[-1]
        transition(session, routed, S.CANCELLED, note="customer cancelled")
        session.commit()
        (replan,) = replan_on_changes(session, now=at(9))
        assert (replan.trigger, replan.priority) == (f"cancelled:{routed.id}", routed.priority)
        assert replan.reason == f"job {routed.reference} cancelled"
        session.commit()
        assert replan_on_changes(session, now=at(9, 5)) == []


# -- a technician unavailable -------------------------------------------------------------


def test_a_technician_unavailable_gives_back_jobs_not_started_and_stops_work_under_way(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        sick, jobs = busiest_route(session, published_day)
        assert len(jobs) >= 3
        jobs[0].priority = P.EMERGENCY
        start(session, jobs[0], S.ON_SITE)
        start(session, jobs[1], S.DISPATCHED)
        session.commit()
        untouched = {j.reference: j.status for j in session.scalars(select(Job))}

        done = technician_unavailable(session, sick, published_day, "sick")
        session.commit()

        assert done.day_off_recorded
        assert done.stopped == (jobs[0].reference,)
        assert done.follow_ups == (f"{jobs[0].reference}-F1",)
        assert done.returned == tuple(j.reference for j in jobs[1:])
        assert done.replan is not None and done.replan.run_id is not None
        assert done.replan.trigger == f"unavailable:{sick.id}"
        assert done.replan.priority == P.EMERGENCY
        # The emergency follow-up is new to the published plan, but this re-plan covers it.
        assert replan_on_changes(session, now=at(9)) == []
    with sessions() as session:
        day_off = session.get_one(DayOff, (sick.id, published_day))
        assert day_off.reason == "sick"
        stopped = session.get_one(Job, jobs[0].id)
        assert stopped.status == S.CANNOT_COMPLETE
        assert stopped.outcome_note == f"technician {sick.code} unavailable: sick"
        follow_up = session.scalars(select(Job).where(Job.follow_up_of_id == stopped.id)).one()
        assert (follow_up.status, follow_up.service_date) == (S.TRIAGED, published_day)
        for job in jobs[1:]:
            back = session.get_one(Job, job.id)
            assert (back.status, back.technician_id, back.planned_start) == (S.TRIAGED, None, None)
            assert back.service_date == published_day
        others = {
            j.reference: j.status
            for j in session.scalars(select(Job))
            if j.id not in {job.id for job in jobs} and j.follow_up_of_id is None
        }
        assert others == {ref: untouched[ref] for ref in others}
        alert = session.scalars(select(Event).where(Event.entity_type == ALERT_EVENT)).one()
        assert (alert.entity_id, alert.action) == (str(stopped.id), WORK_STOPPED)
        assert follow_up.reference in alert.changes["message"]
        run = session.get_one(PlanRun, done.replan.run_id)
        assert run.replan and run.state == RunState.QUEUED
        problem = build_problem(session, published_day)  # the day can be planned again
        assert sick.code not in {t.id for t in problem.technicians}
        assert {j.reference for j in jobs[1:]} | {follow_up.reference} <= {
            j.id for j in problem.jobs
        }


def test_a_paused_or_en_route_job_of_an_unavailable_technician(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    """Paused work is resumed and then ended (the lifecycle ends work only from on site);
    a technician on the way is turned back, the job recalled and unscheduled."""
    with sessions() as session:
        sick, jobs = busiest_route(session, published_day)
        start(session, jobs[0], S.PAUSED)
        start(session, jobs[1], S.EN_ROUTE)
        session.commit()
        done = technician_unavailable(session, sick, published_day, "van broke down")
        session.commit()
        assert done.stopped == (jobs[0].reference,)
        assert jobs[1].reference in done.returned
        steps = [
            event.changes["status"]
            for event in session.scalars(
                select(Event)
                .where(Event.entity_type == "jobs", Event.entity_id == str(jobs[1].id))
                .order_by(Event.id)
            )
            if "status" in event.changes
        ]
        assert steps[-3:] == [
            ["en_route", "dispatched"],
            ["dispatched", "scheduled"],
            ["scheduled", "triaged"],
        ]


def test_a_technician_unavailable_twice_or_without_a_published_plan_asks_no_replan(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        sick, _ = busiest_route(session, published_day)
        first = technician_unavailable(session, sick, published_day, "sick")
        session.commit()
        again = technician_unavailable(session, sick, published_day, "still sick")
        session.commit()
        assert first.replan is not None
        assert (again.day_off_recorded, again.returned, again.replan) == (False, (), None)
        assert session.get_one(DayOff, (sick.id, published_day)).reason == "sick"

        unplanned = DAY + timedelta(days=7)
        other = session.scalars(select(Technician).where(Technician.id != sick.id)).first()
        assert other is not None
        assert technician_unavailable(session, other, unplanned, "training").replan is None
        assert len(runs(session)) == 1


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_a_technician_unavailable_needs_a_reason(
    sessions: sessionmaker[Session], published_day: date, reason: str
) -> None:
    with sessions() as session:
        sick, _ = busiest_route(session, published_day)
        with pytest.raises(ValueError, match="why"):
            technician_unavailable(session, sick, published_day, reason)
        assert session.get(DayOff, (sick.id, published_day)) is None


# -- the nightly plan ---------------------------------------------------------------------


def test_the_nightly_plan_queues_the_next_working_day_once(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        import_day(session, load_day("oslo-5x30"))
        run = plan_next_working_day(
            session, now=at(18, day=DAY - timedelta(days=1)), time_limit_s=7
        )
        session.commit()
        assert run is not None
        assert (run.service_date, run.state, run.reason) == (DAY, RunState.QUEUED, NIGHTLY_REASON)
        assert (run.replan, run.auto_publish, run.time_limit_s) == (False, False, 7)
        again = plan_next_working_day(
            session, now=at(18, 5, day=DAY - timedelta(days=1)), time_limit_s=7
        )
        assert again is None and len(runs(session)) == 1


def test_the_nightly_plan_skips_days_off_and_creates_the_service_day(
    sessions: sessionmaker[Session],
) -> None:
    """From Tuesday evening the next working day is the next Tuesday; its service day is
    made from the latest one's settings."""
    with sessions() as session:
        import_day(session, load_day("oslo-5x30"))
        run = plan_next_working_day(session, now=at(18), time_limit_s=7)
        session.commit()
        next_tuesday = DAY + timedelta(days=7)
        assert run is not None and run.service_date == next_tuesday
        made = session.get_one(ServiceDay, next_tuesday)
        model = session.get_one(ServiceDay, DAY)
        assert (made.timezone, made.travel_speed_kmh, made.travel_circuity, made.name) == (
            model.timezone,
            model.travel_speed_kmh,
            model.travel_circuity,
            model.name,
        )


def test_the_nightly_plan_leaves_a_published_or_proposed_day_alone(
    sessions: sessionmaker[Session],
) -> None:
    evening = at(18, day=DAY - timedelta(days=1))
    with sessions() as session:
        day = import_day(session, load_day("oslo-5x30"))
        proposal = propose(session, day)
        session.commit()
        assert plan_next_working_day(session, now=evening, time_limit_s=7) is None
        publish(session, proposal.id, user_id=None)
        session.commit()
        assert session.get_one(Plan, proposal.id).status == PlanStatus.PUBLISHED
        assert plan_next_working_day(session, now=evening, time_limit_s=7) is None
        assert runs(session) == []


def test_the_nightly_plan_needs_a_service_day_set_up(session: Session) -> None:
    assert plan_next_working_day(session, now=at(18), time_limit_s=7) is None
    assert runs(session) == []

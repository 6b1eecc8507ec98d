"""The SLA watch (forecasts, escalation, overruns) and the reminders, with explicit ``now``.

Every test runs on SQLite and on PostgreSQL, on the oslo-5x30 day (Tuesday 2026-11-24,
Europe/Oslo) planned and published.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import utcnow
from dispatch.enums import JobStatus, Priority, RunState
from dispatch.lifecycle import transition
from dispatch.models import Event, Job, PlanRun
from dispatch.planning.live import ALERT_EVENT
from dispatch.planning.watch import (
    NOT_DISPATCHED,
    OVERRUN_GRACE,
    PAUSED_LONG,
    SLA_RISK,
    UNTRIAGED,
    Forecast,
    forecast,
    remind,
    sla_watch,
)
from tests.dispatch.test_live import OSLO, at, busiest_route, new_job, publish_oslo, start
from tests.helpers import make_job

S = JobStatus
P = Priority


@pytest.fixture
def published_day(sessions: sessionmaker[Session]) -> date:
    return publish_oslo(sessions)


def by_reference(forecasts: list[Forecast]) -> dict[str, Forecast]:
    return {f.reference: f for f in forecasts}


def alerts(session: Session, kind: str) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .where(Event.entity_type == ALERT_EVENT, Event.action == kind)
            .order_by(Event.id)
        )
    )


def planned(job: Job) -> tuple[datetime, datetime]:
    assert job.planned_start is not None and job.planned_end is not None
    return job.planned_start, job.planned_end


# -- forecasts ----------------------------------------------------------------------------


def test_before_the_day_starts_the_forecast_is_the_published_plan(
    session: Session, published_day: date
) -> None:
    forecasts = forecast(session, published_day, now=at(6))
    jobs = {
        j.reference: j for j in session.scalars(select(Job).where(Job.technician_id.is_not(None)))
    }
    assert set(by_reference(forecasts)) == set(jobs)
    for predicted in forecasts:
        assert (predicted.start, predicted.end) == planned(jobs[predicted.reference])
        assert predicted.delay == timedelta(0)


def test_a_job_on_site_past_its_planned_end_pushes_the_technicians_later_jobs(
    session: Session, published_day: date
) -> None:
    _, jobs = busiest_route(session, published_day)
    start(session, jobs[0], S.ON_SITE)
    session.commit()
    now = planned(jobs[0])[1] + timedelta(minutes=40)
    predicted = by_reference(forecast(session, published_day, now=now))
    assert predicted[jobs[0].reference].end == now
    for later in jobs[1:]:
        begins, ends = planned(later)
        assert predicted[later.reference].start == begins + timedelta(minutes=40)
        assert predicted[later.reference].end == ends + timedelta(minutes=40)


def test_a_technician_not_on_the_way_by_the_planned_start_is_late(
    session: Session, published_day: date
) -> None:
    _, jobs = busiest_route(session, published_day)
    start(session, jobs[0], S.DISPATCHED)
    session.commit()
    begins, ends = planned(jobs[0])
    now = begins + timedelta(minutes=25)
    predicted = by_reference(forecast(session, published_day, now=now))
    assert (predicted[jobs[0].reference].start, predicted[jobs[0].reference].end) == (
        now,
        ends + timedelta(minutes=25),
    )
    assert predicted[jobs[1].reference].start == planned(jobs[1])[0] + timedelta(minutes=25)


# -- escalation ---------------------------------------------------------------------------


def test_a_job_predicted_to_miss_its_sla_is_escalated_once(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        _, jobs = busiest_route(session, published_day)
        start(session, jobs[0], S.ON_SITE)
        late = jobs[1]
        late.priority = P.NORMAL
        late.sla_due = planned(late)[1] + timedelta(minutes=10)
        session.commit()
        now = planned(jobs[0])[1] + timedelta(minutes=30)

        report = sla_watch(session, now=now)
        session.commit()
        assert late.reference in {alert.job for alert in report.escalated}
        assert session.get_one(Job, late.id).priority == P.HIGH
        (alert,) = [a for a in alerts(session, SLA_RISK) if a.entity_id == str(late.id)]
        assert alert.changes["priority"] == ["normal", "high"]
        assert alert.changes["sla_due"] == late.sla_due.isoformat()
        assert late.reference in alert.changes["message"]
        (replan,) = [r for r in report.replans if r.trigger == f"sla:{late.id}"]
        assert replan.priority == P.HIGH and replan.run_id is not None
        run = session.get_one(PlanRun, replan.run_id)
        assert (run.state, run.replan) == (RunState.QUEUED, True)

        again = sla_watch(session, now=now + timedelta(minutes=1))
        session.commit()
        assert late.reference not in {alert.job for alert in again.escalated}
        assert session.get_one(Job, late.id).priority == P.HIGH
        assert len([a for a in alerts(session, SLA_RISK) if a.entity_id == str(late.id)]) == 1


def test_an_emergency_predicted_late_stays_an_emergency_and_publishes_itself(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        _, jobs = busiest_route(session, published_day)
        late = jobs[0]
        late.priority = P.EMERGENCY
        late.sla_due = planned(late)[1]
        start(session, late, S.DISPATCHED)
        session.commit()
        report = sla_watch(session, now=planned(late)[0] + timedelta(minutes=5))
        session.commit()
        assert late.reference in {alert.job for alert in report.escalated}
        assert session.get_one(Job, late.id).priority == P.EMERGENCY
        (replan,) = [r for r in report.replans if r.trigger == f"sla:{late.id}"]
        assert replan.run_id is not None
        assert session.get_one(PlanRun, replan.run_id).auto_publish is True


# -- overruns -----------------------------------------------------------------------------


def test_an_overrun_past_the_grace_with_jobs_after_it_asks_for_a_replan_once(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        _, jobs = busiest_route(session, published_day)
        start(session, jobs[0], S.ON_SITE)
        session.commit()
        trigger = f"overrun:{jobs[0].id}"
        ends = planned(jobs[0])[1]

        within = sla_watch(session, now=ends + OVERRUN_GRACE - timedelta(minutes=1))
        session.commit()
        assert trigger not in {r.trigger for r in within.replans}
        past = sla_watch(session, now=ends + OVERRUN_GRACE + timedelta(minutes=1))
        session.commit()
        (replan,) = [r for r in past.replans if r.trigger == trigger]
        assert replan.run_id is not None
        assert jobs[0].reference in replan.reason
        assert replan.priority == min((j.priority for j in jobs), key=list(P).index)
        again = sla_watch(session, now=ends + OVERRUN_GRACE + timedelta(minutes=2))
        assert trigger not in {r.trigger for r in again.replans}


def test_an_overrun_of_a_technicians_last_job_asks_for_nothing(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        _, jobs = busiest_route(session, published_day)
        for job in jobs[:-1]:
            start(session, job, S.ON_SITE)
            transition(session, job, S.COMPLETED)
        start(session, jobs[-1], S.ON_SITE)
        session.commit()
        report = sla_watch(session, now=planned(jobs[-1])[1] + timedelta(hours=1))
        assert f"overrun:{jobs[-1].id}" not in {r.trigger for r in report.replans}


def test_the_watch_also_queues_the_replans_of_new_urgent_jobs(
    sessions: sessionmaker[Session], published_day: date
) -> None:
    with sessions() as session:
        emergency = new_job(session, "E-1", P.EMERGENCY)
        session.commit()
        report = sla_watch(session, now=at(6))
        assert [r.trigger for r in report.replans] == [f"added:{emergency.id}"]
        assert report.escalated == []


# -- reminders ----------------------------------------------------------------------------


def test_a_request_waiting_for_triage_is_reminded_once(session: Session) -> None:
    waiting = make_job(session, reference="W-1", status=S.NEW)
    session.commit()
    created = waiting.created_at
    assert remind(session, now=created + timedelta(hours=1, minutes=59)) == []
    (alert,) = remind(session, now=created + timedelta(hours=2, minutes=1))
    assert (alert.kind, alert.job) == (UNTRIAGED, "W-1")
    session.commit()
    assert remind(session, now=created + timedelta(hours=4)) == []
    assert len(alerts(session, UNTRIAGED)) == 1


def test_a_scheduled_job_not_dispatched_shortly_before_its_start_is_reminded_once(
    session: Session, published_day: date
) -> None:
    technician, jobs = busiest_route(session, published_day)
    begins = planned(jobs[0])[0]
    early = remind(session, now=begins - timedelta(minutes=31))
    assert jobs[0].reference not in {a.job for a in early if a.kind == NOT_DISPATCHED}
    due = remind(session, now=begins - timedelta(minutes=29))
    session.commit()
    (alert,) = [a for a in due if a.job == jobs[0].reference]
    assert alert.kind == NOT_DISPATCHED and technician.code in alert.message
    assert f"{begins.astimezone(OSLO):%H:%M}" in alert.message
    later = remind(session, now=begins)
    assert jobs[0].reference not in {a.job for a in later}


def test_a_job_paused_too_long_is_reminded_once_per_pause(
    session: Session, published_day: date
) -> None:
    _, jobs = busiest_route(session, published_day)
    start(session, jobs[0], S.PAUSED)
    session.commit()
    paused_at = utcnow()
    assert [
        a for a in remind(session, now=paused_at + timedelta(minutes=59)) if a.kind == PAUSED_LONG
    ] == []
    (alert,) = [
        a for a in remind(session, now=paused_at + timedelta(minutes=61)) if a.kind == PAUSED_LONG
    ]
    assert alert.job == jobs[0].reference
    session.commit()
    assert [
        a for a in remind(session, now=paused_at + timedelta(hours=3)) if a.kind == PAUSED_LONG
    ] == []

    transition(session, jobs[0], S.ON_SITE)
    transition(session, jobs[0], S.PAUSED)
    session.commit()
    (second,) = [
        a for a in remind(session, now=utcnow() + timedelta(minutes=61)) if a.kind == PAUSED_LONG
    ]
    assert second.job == jobs[0].reference
    session.commit()
    assert len(alerts(session, PAUSED_LONG)) == 2

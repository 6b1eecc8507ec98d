"""Key figures over hand-built days whose every time is chosen, in Oslo (UTC+1 in November)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.enums import JobStatus, PlanStatus, Priority
from dispatch.field_models import ReportOutcome, StatusReport
from dispatch.kpis import Share, UnknownTechnician, kpis
from dispatch.models import DayPlan, Job, Plan, ServiceDay, Technician
from tests.helpers import make_job, make_technician

DAY = date(2026, 11, 24)
NEXT_DAY = DAY + timedelta(days=1)


def utc(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def local(hour: int, minute: int = 0) -> str:
    return f"{DAY.isoformat()}T{hour:02d}:{minute:02d}:00+01:00"


def build_day(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four requests on 24 November 2026 (Europe/Oslo), the log's times set by hand.

    - J-0001 (T-01): created 07:00 UTC, on site 08:30 (response due 09:00), completed
      10:00 (due 12:00), arrived inside its window (ends 10:00).
    - J-0002 (T-02, no SLA): created 06:00, on site 11:00 (10 min after its planned
      start), cannot_complete 12:00; its follow-up J-0002-F1 completed 14:00.
    - J-0003 (T-01): created 08:00, on site 10:20 (20 min after its planned start, no
      window), completed 23:30 UTC — 00:30 on the 25th in Oslo, after its due 09:00.
    - J-0004: created 20 November, still open.

    T-01's published route: 100 min travel, 150 min of work in an 8-hour shift.
    """

    def at(moment: datetime) -> None:
        monkeypatch.setattr(audit, "utcnow", lambda: moment)

    session.add(
        ServiceDay(
            day=DAY, name="Oslo", timezone="Europe/Oslo", travel_speed_kmh=30, travel_circuity=1.3
        )
    )
    first, second = make_technician(session, "T-01"), make_technician(session, "T-02")
    at(utc(6))
    fixed = _job(session, "J-0001", first, created=utc(7), sla_due=utc(12))
    fixed.request.sla_response_due = utc(9)
    fixed.window_start, fixed.window_end = utc(8), utc(10)
    failed = _job(session, "J-0002", second, created=utc(6), planned_start=utc(10, 50))
    late = _job(session, "J-0003", first, created=utc(8), sla_due=utc(9), planned_start=utc(10))
    _job(session, "J-0004", None, created=utc(12, day=date(2026, 11, 20)))
    session.flush()

    def move(job: Job, status: JobStatus, moment: datetime) -> None:
        at(moment)
        job.status = status
        session.flush()
        if status == JobStatus.ON_SITE:
            _report(session, job, moment)

    move(fixed, JobStatus.ON_SITE, utc(8, 30))
    move(fixed, JobStatus.COMPLETED, utc(10))
    move(late, JobStatus.ON_SITE, utc(10, 20))
    move(failed, JobStatus.ON_SITE, utc(11))
    move(failed, JobStatus.CANNOT_COMPLETE, utc(12))
    follow_up = Job(
        reference="J-0002-F1",
        request=failed.request,
        site=failed.site,
        title=failed.title,
        status=JobStatus.TRIAGED,
        priority=Priority.NORMAL,
        duration_min=60,
        technician=second,
        follow_up_of=failed,
        created_at=utc(12),
    )
    session.add(follow_up)
    session.flush()
    move(follow_up, JobStatus.ON_SITE, utc(13))
    move(follow_up, JobStatus.COMPLETED, utc(14))
    move(late, JobStatus.COMPLETED, utc(23, 30))
    _publish(session, _route_of_first())
    session.commit()


def _job(
    session: Session,
    reference: str,
    technician: Technician | None,
    *,
    created: datetime,
    sla_due: datetime | None = None,
    planned_start: datetime | None = None,
) -> Job:
    job = make_job(session, reference=reference, status=JobStatus.SCHEDULED)
    job.request.created_at = job.created_at = created
    job.technician = technician
    job.sla_due = sla_due
    job.planned_start = planned_start
    job.service_date = DAY
    return job


def _report(session: Session, job: Job, moment: datetime) -> None:
    assert job.technician_id is not None
    session.add(
        StatusReport(
            id=uuid.uuid4(),
            job_id=job.id,
            technician_id=job.technician_id,
            status=JobStatus.ON_SITE,
            device_time=moment,
            outcome=ReportOutcome.APPLIED,
        )
    )


def _route_of_first() -> dict[str, object]:
    """T-01 leaves 08:00, drives 40 min, waits 20, works 60, drives 30, breaks while waiting
    30, works 90, drives 30 home: 100 min of travel for two jobs."""
    return {
        "technician": "T-01",
        "depart": local(8),
        "return": local(13),
        "stops": [
            {
                "type": "job",
                "id": "J-0001",
                "arrival": local(8, 40),
                "start": local(9),
                "end": local(10),
            },
            {"type": "break", "arrival": local(10, 30), "start": local(10, 30), "end": local(11)},
            {
                "type": "job",
                "id": "J-0003",
                "arrival": local(10, 30),
                "start": local(11),
                "end": local(12, 30),
            },
        ],
    }


def _publish(session: Session, route: dict[str, object]) -> None:
    document = {
        "format": "fieldops-plan/1",
        "scenario": "kpis",
        "routes": [route],
        "unassigned": [],
    }
    plan = Plan(
        service_date=DAY,
        status=PlanStatus.PUBLISHED,
        base_version=0,
        version=1,
        document=document,
        summary={},
        diff={},
    )
    session.add(plan)
    session.flush()
    session.add(DayPlan(service_date=DAY, version=1, plan_id=plan.id))


@pytest.fixture
def built(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    build_day(session, monkeypatch)
    return session


def test_one_day(built: Session) -> None:
    report = kpis(built, DAY, DAY)

    assert report.timezone == "Europe/Oslo"
    assert [d.day for d in report.days] == [DAY]
    figures = report.total
    assert report.days[0].figures == figures
    # J-0001 on time; J-0002's jobs have no SLA; J-0003 finished on the 25th in Oslo.
    assert figures.resolution_sla == Share(1, 1)
    assert figures.response_sla == Share(1, 1)
    assert figures.median_response_minutes == 140  # of 90, 300 and 140
    assert figures.median_resolve_minutes == 330  # of 180 and 480
    assert figures.p90_resolve_minutes == 480
    assert figures.first_time_fix == Share(1, 2)  # J-0002 needed a follow-up
    assert (figures.travel_minutes, figures.routed_jobs) == (100, 2)
    assert figures.travel_per_job_minutes == 50
    # J-0003 is still open at 23:00 UTC, 15 hours after its request; J-0004 waits 4.5 days.
    assert report.backlog == {"0-1d": 1, "1-3d": 0, "3-7d": 1, ">7d": 0}
    assert report.satisfaction is None


def test_technicians(built: Session) -> None:
    first, second = kpis(built, DAY, DAY).technicians

    assert (first.code, first.work_minutes, first.shift_minutes) == ("T-01", 150, 480)
    assert first.utilization == 0.3125
    assert first.on_time_arrival == Share(1, 2)  # J-0003 came 20 minutes after its start
    assert second.code == "T-02"
    assert second.utilization is None  # no published route
    assert second.on_time_arrival == Share(1, 1)  # 10 minutes after its planned start


def test_day_boundary_is_local(built: Session) -> None:
    report = kpis(built, DAY, NEXT_DAY)

    late = report.days[1].figures
    assert late.resolution_sla == Share(0, 1)
    assert late.median_resolve_minutes == 930
    assert late.first_time_fix == Share(1, 1)
    assert report.total.resolution_sla == Share(1, 2)
    assert report.total.first_time_fix == Share(2, 3)
    assert report.backlog == {"0-1d": 0, "1-3d": 0, "3-7d": 1, ">7d": 0}


def test_technician_filter(built: Session) -> None:
    report = kpis(built, DAY, DAY, technician_code="T-02")

    figures = report.total
    assert figures.resolution_sla == Share(0, 0)
    assert figures.resolution_sla.rate is None
    assert figures.median_resolve_minutes == 480
    assert figures.first_time_fix == Share(0, 1)
    assert figures.travel_per_job_minutes is None
    assert [t.code for t in report.technicians] == ["T-02"]
    assert sum(report.backlog.values()) == 0


def test_a_quiet_day_still_shows_the_backlog(built: Session) -> None:
    quiet = date(2026, 12, 1)
    report = kpis(built, quiet, quiet)

    figures = report.total
    assert figures.resolution_sla == Share(0, 0)
    assert figures.median_response_minutes is None
    assert figures.p90_resolve_minutes is None
    assert figures.travel_minutes == 0
    assert report.technicians == ()
    assert report.backlog == {"0-1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 1}


def test_empty_database(session: Session) -> None:
    report = kpis(session, DAY, NEXT_DAY)

    assert report.timezone == "UTC"
    assert len(report.days) == 2
    assert report.total.first_time_fix == Share(0, 0)
    assert sum(report.backlog.values()) == 0


def test_unknown_technician(session: Session) -> None:
    with pytest.raises(UnknownTechnician):
        kpis(session, DAY, DAY, technician_code="T-99")

"""Requests flow into plans: triage at intake, the triage queue, and the day chosen for a job.

The area is Oslo (a service day set up there makes Europe/Oslo the area's time zone).
Monday 2 March 2026 is the first day; technicians work 08:00-16:00 Oslo time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.days import plannable_jobs
from dispatch.enums import JobStatus, Level, Priority
from dispatch.intake import (
    IntakeError,
    approve,
    submit_request,
    triage_by_hand,
    triage_queue,
)
from dispatch.models import (
    CatalogItem,
    DayOff,
    Job,
    ServiceDay,
    ServiceRequest,
    SlaTarget,
    Technician,
    WorkingHours,
)
from dispatch.service_dates import assign_service_date
from tests.helpers import make_technician

OSLO = ZoneInfo("Europe/Oslo")
MONDAY = date(2026, 3, 2)
TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (MONDAY + timedelta(days=n) for n in range(1, 5))
NEXT_MONDAY = MONDAY + timedelta(days=7)
# (response, resolution) minutes per priority.
LEAK_SLA = {
    Priority.EMERGENCY: (60, 240),
    Priority.HIGH: (240, 1440),
    Priority.NORMAL: (1440, 4320),
    Priority.LOW: (4320, 14400),
}


class NoGeocoder:
    """Every request here gives coordinates: a lookup would be a bug."""

    def geocode(self, query: str) -> None:
        raise AssertionError(f"unexpected geocoding of {query!r}")


def oslo(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant given by the Oslo clock."""
    return datetime.combine(day, time(hour, minute), tzinfo=OSLO)


def item(code: str, skills: list[str], **fields: Any) -> CatalogItem:
    """A one-hour catalog item with the leak repair's SLA targets unless told otherwise."""
    sla = fields.pop("sla", LEAK_SLA)
    return CatalogItem(
        code=code,
        name=code.title(),
        category="plumbing",
        default_duration_min=60,
        required_skills=skills,
        sla_targets=[
            SlaTarget(priority=p, response_minutes=r, resolution_minutes=s)
            for p, (r, s) in sla.items()
        ],
        **fields,
    )


@pytest.fixture
def area(session: Session) -> Technician:
    """Oslo's catalog and technicians; returns P-01, the one plumber (weekdays 08-16).

    Items: LEAK (complete), HEAT-PUMP (needs approval), SURVEY (triaged by hand),
    NO-SLA (no SLA targets at all), ROOF (a skill nobody has). E-01, an electrician,
    works every day of the week.
    """
    session.add(
        ServiceDay(
            day=date(2026, 2, 27),
            name="Oslo",
            timezone="Europe/Oslo",
            travel_speed_kmh=40.0,
            travel_circuity=1.3,
        )
    )
    session.add_all(
        [
            item("LEAK", ["plumbing"]),
            item("HEAT-PUMP", ["plumbing"], requires_approval=True),
            item("SURVEY", ["plumbing"], manual_triage=True),
            item("NO-SLA", ["plumbing"], sla={}),
            item("ROOF", ["roofing"]),
        ]
    )
    plumber = make_technician(session, code="P-01")
    plumber.skills = ["plumbing"]
    electrician = make_technician(session, code="E-01")
    electrician.skills = ["electrical"]
    electrician.working_hours = [
        WorkingHours(weekday=d, start_time=time(8), end_time=time(16)) for d in range(7)
    ]
    session.commit()
    return plumber


def submit(session: Session, now: datetime, **changes: Any) -> Job:
    """Raise a leak repair of normal priority at ``now``; returns its job."""
    data: dict[str, Any] = {
        "channel": "web",
        "requester": {"name": "Kari Nordmann"},
        "site": {"latitude": 59.91, "longitude": 10.75},
        "catalog_code": "LEAK",
        "impact": "medium",
        "urgency": "medium",
        **changes,
    }
    [job] = submit_request(session, data, geocoder=NoGeocoder(), now=now).jobs
    session.commit()
    return job


def test_complete_request_is_triaged_on_today_and_is_planned_that_day(
    session: Session, area: Technician
) -> None:
    """A leak raised Monday morning is triaged at intake and is one of Monday's plannable jobs."""
    job = submit(session, oslo(MONDAY, 10))

    assert (job.status, job.service_date, job.no_date_reason) == (
        JobStatus.TRIAGED,
        MONDAY,
        None,
    )
    assert [j.id for j in plannable_jobs(session, MONDAY)] == [job.id]
    assert plannable_jobs(session, TUESDAY) == []


def test_today_and_shift_ends_count_in_the_area_time_zone(
    session: Session, area: Technician
) -> None:
    """At 15:30 in Oslo (14:30 UTC) a one-hour job no longer fits Monday's 16:00 shift end."""
    job = submit(session, datetime(2026, 3, 2, 14, 30, tzinfo=UTC))

    assert job.service_date == TUESDAY


def test_friday_evening_request_goes_to_monday(session: Session, area: Technician) -> None:
    """After Friday's shift, the weekend has no plumber: the next day is Monday."""
    job = submit(session, oslo(FRIDAY, 18))

    assert job.service_date == NEXT_MONDAY


def test_day_off_moves_the_job_to_the_next_day(session: Session, area: Technician) -> None:
    """The only plumber is off on Monday, so Monday's request gets Tuesday."""
    area.days_off = [DayOff(day=MONDAY, reason="dentist")]
    session.commit()

    assert submit(session, oslo(MONDAY, 7)).service_date == TUESDAY


def test_only_a_technician_with_the_skills_counts(session: Session, area: Technician) -> None:
    """The electrician works every day, but the plumber only on Wednesdays: Wednesday it is."""
    area.working_hours = [WorkingHours(weekday=2, start_time=time(8), end_time=time(16))]
    session.commit()

    assert submit(session, oslo(MONDAY, 7)).service_date == WEDNESDAY


def test_window_chooses_its_day(session: Session, area: Technician) -> None:
    """A window on Thursday morning gives Thursday."""
    window = {"window_start": oslo(THURSDAY, 9).isoformat(), "window_end": "2026-03-05T11:00Z"}

    assert submit(session, oslo(MONDAY, 7), **window).service_date == THURSDAY


def test_window_outside_every_shift_leaves_no_date_and_says_why(
    session: Session, area: Technician
) -> None:
    """A window after the shift (17:00-19:00) can take no day; the reason names the window."""
    window = {
        "window_start": oslo(THURSDAY, 17).isoformat(),
        "window_end": oslo(THURSDAY, 19).isoformat(),
    }
    job = submit(session, oslo(MONDAY, 7), **window)

    assert (job.status, job.service_date) == (JobStatus.TRIAGED, None)
    assert job.no_date_reason is not None
    assert job.no_date_reason.startswith("no day from 2026-03-02 to 2026-03-15 can take it: ")
    assert (
        "its window (2026-03-05 17:00 CET to 2026-03-05 19:00 CET) is not open that day"
        in job.no_date_reason
    )
    assert (
        "no shift of a technician with the skills plumbing has 60 min left inside its window"
        " (1 of them)" in job.no_date_reason
    )
    assert plannable_jobs(session, THURSDAY) == []


def test_sla_due_before_the_next_working_day_leaves_no_date(
    session: Session, area: Technician
) -> None:
    """An emergency raised Friday evening is due at 22:00; Monday is too late, and it says so."""
    job = submit(session, oslo(FRIDAY, 18), impact="high", urgency="high")

    assert job.priority == Priority.EMERGENCY
    assert job.service_date is None
    assert job.no_date_reason is not None
    assert "after the SLA resolution due 2026-03-06 22:00 CET" in job.no_date_reason


def test_skill_nobody_has_leaves_no_date_and_says_why(session: Session, area: Technician) -> None:
    """Work that needs a skill no active technician has is triaged without a day."""
    job = submit(session, oslo(MONDAY, 7), catalog_code="ROOF")

    assert (job.status, job.service_date) == (JobStatus.TRIAGED, None)
    assert job.no_date_reason == (
        "no day from 2026-03-02 to 2026-03-15 can take it:"
        " no active technician with the skills roofing"
    )


def test_horizon_bounds_the_search(session: Session, area: Technician) -> None:
    """A window three weeks out is beyond 14 days but within 30 (no SLA due limits it)."""
    window_day = MONDAY + timedelta(days=22)
    job = submit(
        session,
        oslo(MONDAY, 7),
        catalog_code="NO-SLA",
        window_start=oslo(window_day, 8).isoformat(),
        window_end=oslo(window_day, 12).isoformat(),
    )
    triage_by_hand(session, job, now=oslo(MONDAY, 7))
    assert (job.status, job.service_date) == (JobStatus.TRIAGED, None)

    assign_service_date(session, job, now=oslo(MONDAY, 7), horizon_days=30)

    assert (job.service_date, job.no_date_reason) == (window_day, None)


def test_requested_day_that_can_take_the_job_is_kept(session: Session, area: Technician) -> None:
    """A request naming Wednesday is planned on Wednesday, though Monday was free."""
    assert submit(session, oslo(MONDAY, 7), service_date="2026-03-04").service_date == WEDNESDAY


@pytest.mark.parametrize(
    ("service_date", "urgency", "reason"),
    [
        ("2026-03-07", "low", "2026-03-07 cannot take it: no technician with the skills plumbing"),
        ("2026-02-27", "low", "2026-02-27 cannot take it: it is before today (2026-03-02)"),
        ("2026-03-06", "high", "2026-03-06 cannot take it: it is after the SLA resolution due"),
    ],
    ids=["saturday", "past", "after-sla"],
)
def test_requested_day_that_cannot_take_the_job_is_refused(
    session: Session, area: Technician, service_date: str, urgency: str, reason: str
) -> None:
    """A named day that fails a rule is a field error with the reason, and nothing is written."""
    changes = {"service_date": service_date, "impact": "low", "urgency": urgency}
    with pytest.raises(IntakeError) as refused:
        submit(session, oslo(MONDAY, 7), **changes)

    [error] = refused.value.errors
    assert error.field == "service_date" and error.message.startswith(reason)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0


def test_request_needing_approval_waits_then_gets_a_day_when_approved(
    session: Session, area: Technician
) -> None:
    """An item needing approval leaves the job awaiting approval with no day, out of the plan;
    approval triages it and dates it."""
    job = submit(session, oslo(MONDAY, 7), catalog_code="HEAT-PUMP")

    assert (job.status, job.service_date) == (JobStatus.AWAITING_APPROVAL, None)
    assert triage_queue(session) == []

    approve(session, job, now=oslo(TUESDAY, 9))
    session.commit()

    assert (job.status, job.service_date) == (JobStatus.TRIAGED, TUESDAY)
    assert job.approved_at is not None
    assert [j.id for j in plannable_jobs(session, TUESDAY)] == [job.id]


def test_approval_keeps_the_requested_day_until_it_has_passed(
    session: Session, area: Technician
) -> None:
    """Approved in time, a job keeps the day its request named; approved after it, it gets the
    first day that can take it."""
    in_time = submit(session, oslo(MONDAY, 7), catalog_code="HEAT-PUMP", service_date="2026-03-04")
    too_late = submit(
        session, oslo(MONDAY, 7), catalog_code="HEAT-PUMP", service_date="2026-03-03"
    )
    assert (in_time.service_date, too_late.service_date) == (WEDNESDAY, TUESDAY)

    approve(session, in_time, now=oslo(TUESDAY, 12))
    approve(session, too_late, now=oslo(WEDNESDAY, 9))
    session.commit()

    assert (in_time.status, in_time.service_date) == (JobStatus.TRIAGED, WEDNESDAY)
    assert (too_late.status, too_late.service_date) == (JobStatus.TRIAGED, WEDNESDAY)


def test_queue_lists_what_intake_could_not_triage_oldest_first(
    session: Session, area: Technician
) -> None:
    """Jobs of a hand-triaged item and of an item without SLA wait, oldest first, with gaps."""
    survey = submit(session, oslo(MONDAY, 9), catalog_code="SURVEY")
    no_sla = submit(session, oslo(MONDAY, 8), catalog_code="NO-SLA")
    submit(session, oslo(MONDAY, 10))  # triaged at intake: not in the queue

    queue = triage_queue(session)

    assert [(q.job.id, q.missing) for q in queue] == [
        (no_sla.id, ("catalog item NO-SLA has no SLA target at normal priority",)),
        (survey.id, ("catalog item SURVEY is triaged by hand",)),
    ]
    assert {q.job.status for q in queue} == {JobStatus.NEW}
    assert no_sla.service_date is None and survey.service_date is None


def test_job_triaged_by_hand_gets_a_day_and_is_planned(session: Session, area: Technician) -> None:
    """A dispatcher's triage of a queued job reclassifies it, dates it and takes it off the queue."""
    job = submit(session, oslo(MONDAY, 7), catalog_code="SURVEY")

    triage_by_hand(session, job, now=oslo(MONDAY, 11), catalog_code="LEAK", urgency=Level.HIGH)
    session.commit()

    assert (job.status, job.priority, job.service_date) == (
        JobStatus.TRIAGED,
        Priority.HIGH,
        MONDAY,
    )
    assert job.request.catalog_item is not None and job.request.catalog_item.code == "LEAK"
    assert triage_queue(session) == []
    assert [j.id for j in plannable_jobs(session, MONDAY)] == [job.id]


def test_triage_by_hand_takes_the_dispatchers_day_or_refuses_it(
    session: Session, area: Technician
) -> None:
    """A day the dispatcher names is kept when it can take the job, refused with why otherwise."""
    kept = submit(session, oslo(MONDAY, 7), catalog_code="SURVEY")
    refused = submit(session, oslo(MONDAY, 7), catalog_code="SURVEY")

    triage_by_hand(session, kept, now=oslo(MONDAY, 7), service_date=WEDNESDAY)
    session.commit()
    with pytest.raises(IntakeError) as refusal:
        triage_by_hand(session, refused, now=oslo(MONDAY, 7), service_date=date(2026, 3, 8))
    session.rollback()

    assert (kept.status, kept.service_date) == (JobStatus.TRIAGED, WEDNESDAY)
    [error] = refusal.value.errors
    assert error.field == "service_date" and "2026-03-08 cannot take it" in error.message
    assert (refused.status, refused.service_date) == (JobStatus.NEW, None)

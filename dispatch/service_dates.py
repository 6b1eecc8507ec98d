"""The day a triaged job is planned on, chosen so that nobody has to type a service date.

A day can take a job when it is not before today (in the service area's time zone,
``days.service_area_zone``), not more than a year ahead, not after the job's SLA
resolution due, and an active technician with the job's skills works that day (weekly
hours minus days off) with a shift that leaves room for the job: the visit starts
inside the job's window, as the optimizer reads a window, and not before now, and ends
before the shift does. Travel and the other jobs of the day are the planner's concern.

A job no day can take within the horizon keeps no date, and ``Job.no_date_reason``
says why, for the dispatcher.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.days import service_area_zone
from dispatch.models import Job, Technician

#: How many days from today the automatic choice looks at.
DEFAULT_HORIZON_DAYS = 14
#: A requested day further ahead than this is refused: no plan reaches it, and it is
#: more likely a typing error (2062 for 2026) than a wish.
MAX_DAYS_AHEAD = 366


@dataclass(frozen=True)
class Needs:
    """What a job asks of a day: skills, minutes on site, its window and SLA resolution due."""

    skills: frozenset[str]
    duration_min: int
    window_start: datetime | None = None
    window_end: datetime | None = None
    sla_due: datetime | None = None

    @classmethod
    def of(cls, job: Job) -> Needs:
        return cls(
            skills=frozenset(job.required_skills),
            duration_min=job.duration_min,
            window_start=job.window_start,
            window_end=job.window_end,
            sla_due=job.sla_due,
        )


@dataclass(frozen=True)
class Calendar:
    """Who works when, read once: the active technicians, the area's time zone, and now."""

    technicians: tuple[Technician, ...]
    zone: ZoneInfo
    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()


class ServiceDateRefused(ValueError):
    """The requested service date cannot take the job; the message says why."""


def calendar(session: Session, *, now: datetime) -> Calendar:
    """The active technicians with their hours and days off, in the service area's zone."""
    technicians = session.scalars(
        select(Technician)
        .where(Technician.active)
        .options(selectinload(Technician.working_hours), selectinload(Technician.days_off))
        .order_by(Technician.id)
    )
    return Calendar(tuple(technicians), service_area_zone(session), now)


def day_refusal(cal: Calendar, needs: Needs, day: date) -> str | None:
    """Why ``day`` cannot take a job with ``needs`` (a phrase), or None when it can."""
    if day < cal.today:
        return f"it is before today ({cal.today})"
    if (day - cal.today).days > MAX_DAYS_AHEAD:
        return f"it is more than {MAX_DAYS_AHEAD} days ahead"
    skilled = [t for t in cal.technicians if needs.skills <= set(t.skills)]
    who = f"technician with the skills {', '.join(sorted(needs.skills))}" if needs.skills else ""
    if not skilled:  # first: no other cause matters while this one holds
        return f"no active {who or 'technician'}"
    day_start = datetime.combine(day, time.min, tzinfo=cal.zone)
    if needs.sla_due is not None and day_start > needs.sla_due:
        return f"it is after the SLA resolution due {_local(needs.sla_due, cal.zone)}"
    day_end = datetime.combine(day, time.max, tzinfo=cal.zone)
    if (needs.window_end is not None and needs.window_end <= day_start) or (
        needs.window_start is not None and needs.window_start > day_end
    ):
        return f"its window ({_window(needs, cal.zone)}) is not open that day"
    shifts = [shift for t in skilled if (shift := t.shift_on(day)) is not None]
    if not shifts:
        return f"no {who or 'technician'} works that day"
    duration = timedelta(minutes=needs.duration_min)
    for shift in shifts:
        earliest = max(
            filter(None, (_at(day, shift.start_time, cal.zone), needs.window_start, cal.now))
        )
        latest = min(
            filter(None, (_at(day, shift.end_time, cal.zone) - duration, needs.window_end))
        )
        if earliest <= latest:
            return None
    inside = " inside its window" if needs.window_start or needs.window_end else ""
    return f"no shift of a {who or 'technician'} has {needs.duration_min} min left{inside}"


def requested_day_refusal(cal: Calendar, needs: Needs, day: date) -> str | None:
    """Why a day someone asked for cannot take the job, as a sentence naming the day."""
    refusal = day_refusal(cal, needs, day)
    return None if refusal is None else f"{day} cannot take it: {refusal}"


def first_open_day(
    cal: Calendar, needs: Needs, *, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> tuple[date | None, str | None]:
    """The first day from today that can take the job, or None and why no day can.

    Parameters
    ----------
    cal : Calendar
        Technicians, zone and now, from ``calendar``.
    needs : Needs
        What the job asks of a day.
    horizon_days : int
        How many days, today included, are tried.

    Returns
    -------
    tuple
        ``(day, None)``, or ``(None, reason)`` where the reason names the days tried and
        why they could not take the job (with several causes, on how many days each held).
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, not {horizon_days}")
    days = [cal.today + timedelta(days=n) for n in range(horizon_days)]
    causes: Counter[str] = Counter()
    for day in days:
        refusal = day_refusal(cal, needs, day)
        if refusal is None:
            return day, None
        causes[refusal] += 1
    if len(causes) == 1:
        listed = next(iter(causes))
    else:
        listed = "; ".join(f"{cause} ({count} of them)" for cause, count in causes.items())
    return None, f"no day from {days[0]} to {days[-1]} can take it: {listed}"


def assign_service_date(
    session: Session,
    job: Job,
    *,
    now: datetime,
    requested: date | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> date | None:
    """Give ``job`` its service date: ``requested`` when that day can take it, else the first
    day that can; with none, no date and the reason in ``job.no_date_reason``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work; the job is changed, not flushed.
    job : Job
        The job to date (normally just triaged).
    now : datetime
        Aware instant; today is its date in the service area's time zone.
    requested : date, optional
        A day the requester or dispatcher asked for.
    horizon_days : int
        How many days from today the automatic choice tries.

    Returns
    -------
    date or None
        The job's service date, None when no day can take it.

    Raises
    ------
    ServiceDateRefused
        When ``requested`` cannot take the job; the job is left as it was.
    """
    cal = calendar(session, now=now)
    needs = Needs.of(job)
    if requested is not None:
        refusal = requested_day_refusal(cal, needs, requested)
        if refusal is not None:
            raise ServiceDateRefused(refusal)
        job.service_date, job.no_date_reason = requested, None
    else:
        job.service_date, job.no_date_reason = first_open_day(
            cal, needs, horizon_days=horizon_days
        )
    return job.service_date


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """``clock`` on ``day`` in ``zone``, as a UTC instant (so arithmetic is in real minutes)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _local(instant: datetime, zone: ZoneInfo) -> str:
    """An instant as the area's clock reads it; in UTC when the area's clock cannot show it."""
    try:
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    except OverflowError:  # within minutes of year 1 or 9999
        return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _window(needs: Needs, zone: ZoneInfo) -> str:
    start = _local(needs.window_start, zone) if needs.window_start else "any time"
    end = _local(needs.window_end, zone) if needs.window_end else "open-ended"
    return f"{start} to {end}"

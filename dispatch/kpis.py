"""Key figures of dispatch over a date range, computed from the event log and the plans.

Days are the service area's (``dispatch.days.service_area_zone``): a job completed at
23:30 local time counts on that local day. Where a figure needs the moment a job reached
a status, it is the first logged change to that status (``dispatch.audit``); on-time
arrival alone reads the phone's ``device_time`` of its on-site report, the moment the
technician said they arrived. Each figure is attached to the day its event happened:

- *resolution SLA*: jobs completed that day that had an ``sla_due``, and how many were
  completed by it (jobs without an SLA count in neither);
- *response SLA*: requests first reached on site that day that had an
  ``sla_response_due``, and how many were reached by it; the median response time
  (request created -> first on site) is given too, for requests with or without a target;
- *time to resolve*: request created -> its first completed job, median and p90
  (nearest rank) over the requests resolved that day;
- *first-time fix*: requests resolved that day none of whose jobs reached
  ``cannot_complete`` before (a follow-up after a failed visit is not a first-time fix);
- *travel per job*: the published plan's travel minutes over the jobs it routes. A route's
  travel is its span (depart -> return) less time on site, at warehouses, on break and
  waiting for a window to open (a break taken while waiting counts once);
- per technician, *utilization*: minutes of job work in the published plans over the
  minutes of the technicians' shifts on those days (their working hours);
  *on-time arrival*: first on-site reports by the job's window end, or, for a job with no
  window, within ``ON_TIME_GRACE`` of its planned start; jobs with neither are not judged;
- *backlog*: jobs still open at the end of the range, by the age of their request.

With ``technician_code`` every figure is limited to that technician's jobs and route
(a job is the technician's it is assigned to now). Customer satisfaction is ``None``:
the data model records no rating yet.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.days import service_area_zone
from dispatch.enums import JobStatus
from dispatch.field_models import StatusReport
from dispatch.lifecycle import TERMINAL
from dispatch.models import Event, Job, ServiceRequest, Technician
from dispatch.planning.proposals import published

#: How late after the planned start an arrival still counts as on time (jobs with no window).
ON_TIME_GRACE = timedelta(minutes=15)
#: Backlog age buckets: label and upper bound in days (None: no bound).
BACKLOG_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-1d", 1),
    ("1-3d", 3),
    ("3-7d", 7),
    (">7d", None),
)


class UnknownTechnician(LookupError):
    """The technician code names no technician."""


@dataclass(frozen=True)
class Share:
    """``met`` out of ``total``; ``rate`` is None when there was nothing to judge."""

    met: int
    total: int

    @property
    def rate(self) -> float | None:
        return round(self.met / self.total, 4) if self.total else None


@dataclass(frozen=True)
class Figures:
    resolution_sla: Share
    response_sla: Share
    median_response_minutes: float | None
    median_resolve_minutes: float | None
    p90_resolve_minutes: float | None
    first_time_fix: Share
    travel_minutes: float
    routed_jobs: int
    travel_per_job_minutes: float | None


@dataclass(frozen=True)
class DayKpis:
    day: date
    figures: Figures


@dataclass(frozen=True)
class TechnicianKpis:
    code: str
    name: str
    work_minutes: float
    shift_minutes: float
    utilization: float | None
    on_time_arrival: Share


@dataclass(frozen=True)
class KpiReport:
    start: date
    end: date
    timezone: str
    technician: str | None
    days: tuple[DayKpis, ...]
    total: Figures
    technicians: tuple[TechnicianKpis, ...]
    backlog: Mapping[str, int]
    satisfaction: float | None = None  # no rating in the data model yet


@dataclass
class _Facts:
    """What happened on one day (or the whole range), gathered before it is summed up."""

    resolution: list[bool]
    response: list[bool]
    response_minutes: list[float]
    resolve_minutes: list[float]
    first_time: list[bool]
    travel_minutes: float = 0.0
    routed_jobs: int = 0

    @classmethod
    def empty(cls) -> _Facts:
        return cls([], [], [], [], [])

    def add(self, other: _Facts) -> None:
        self.resolution += other.resolution
        self.response += other.response
        self.response_minutes += other.response_minutes
        self.resolve_minutes += other.resolve_minutes
        self.first_time += other.first_time
        self.travel_minutes += other.travel_minutes
        self.routed_jobs += other.routed_jobs


@dataclass
class _Usage:
    work_minutes: float = 0.0
    shift_minutes: float = 0.0
    arrivals: list[bool] = field(default_factory=list)


def kpis(
    session: Session, start: date, end: date, *, technician_code: str | None = None
) -> KpiReport:
    """The figures of each day from ``start`` to ``end`` (both included) and of the range.

    Raises
    ------
    UnknownTechnician
        ``technician_code`` names no technician.
    """
    zone = service_area_zone(session)
    technician = _technician(session, technician_code)
    until = _midnight(end + timedelta(days=1), zone)
    jobs = _jobs(session, until, technician)
    reached = _first_reached(session, until)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    facts = {day: _Facts.empty() for day in days}
    _add_job_facts(facts, jobs, reached, zone)
    usage: dict[str, _Usage] = defaultdict(_Usage)
    for day in days:
        _add_plan_facts(session, day, facts[day], usage, technician)
    _add_arrivals(session, _midnight(start, zone), until, usage, technician)
    total = _Facts.empty()
    for day in days:
        total.add(facts[day])
    return KpiReport(
        start=start,
        end=end,
        timezone=str(zone),
        technician=technician_code,
        days=tuple(DayKpis(day, _figures(facts[day])) for day in days),
        total=_figures(total),
        technicians=_technician_figures(session, usage),
        backlog=_backlog(jobs, reached, until),
    )


def _technician(session: Session, code: str | None) -> Technician | None:
    if code is None:
        return None
    technician = session.scalar(select(Technician).where(Technician.code == code))
    if technician is None:
        raise UnknownTechnician(code)
    return technician


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _jobs(session: Session, until: datetime, technician: Technician | None) -> list[Job]:
    """Jobs created before ``until``, with their requests and the requests' other jobs."""
    query = (
        select(Job)
        .where(Job.created_at < until)
        .options(selectinload(Job.request).selectinload(ServiceRequest.jobs))
    )
    if technician is not None:
        query = query.where(Job.technician_id == technician.id)
    return list(session.scalars(query))


def _first_reached(session: Session, until: datetime) -> dict[int, dict[str, datetime]]:
    """For each job, when the log first shows it entering each status (before ``until``)."""
    reached: dict[int, dict[str, datetime]] = defaultdict(dict)
    events = session.execute(
        select(Event.entity_id, Event.occurred_at, Event.changes)
        .where(Event.entity_type == Job.__tablename__, Event.occurred_at < until)
        .order_by(Event.id)
    )
    for entity_id, occurred_at, changes in events:
        status = changes.get("status")
        if status and status[1] is not None:
            reached[int(entity_id)].setdefault(status[1], occurred_at)
    return reached


def _add_job_facts(
    facts: dict[date, _Facts],
    jobs: Iterable[Job],
    reached: Mapping[int, Mapping[str, datetime]],
    zone: ZoneInfo,
) -> None:
    """Resolution SLA per completed job; response, time to resolve and first-time fix per request."""

    def day_facts(moment: datetime) -> _Facts | None:
        return facts.get(moment.astimezone(zone).date())

    requests: dict[int, ServiceRequest] = {}
    for job in jobs:
        requests[job.request_id] = job.request
        completed = reached.get(job.id, {}).get(JobStatus.COMPLETED)
        if completed is not None and job.sla_due is not None and (day := day_facts(completed)):
            day.resolution.append(completed <= job.sla_due)
    for request in requests.values():
        times = [reached.get(job.id, {}) for job in request.jobs]
        on_site = _earliest(t.get(JobStatus.ON_SITE) for t in times)
        if on_site is not None and (day := day_facts(on_site)):
            day.response_minutes.append(_minutes(on_site - request.created_at))
            if request.sla_response_due is not None:
                day.response.append(on_site <= request.sla_response_due)
        resolved = _earliest(t.get(JobStatus.COMPLETED) for t in times)
        if resolved is not None and (day := day_facts(resolved)):
            day.resolve_minutes.append(_minutes(resolved - request.created_at))
            failed = _earliest(t.get(JobStatus.CANNOT_COMPLETE) for t in times)
            day.first_time.append(failed is None or failed > resolved)


def _add_plan_facts(
    session: Session,
    day: date,
    facts: _Facts,
    usage: dict[str, _Usage],
    technician: Technician | None,
) -> None:
    """Travel and routed jobs of the day's published plan; each technician's work and shift."""
    current = published(session, day)
    if current is None:
        return
    shifts = {
        t.code: t.shift_on(day)
        for t in session.scalars(
            select(Technician).options(
                selectinload(Technician.working_hours), selectinload(Technician.days_off)
            )
        )
    }
    for route in current[1].document["routes"]:
        code = route["technician"]
        if technician is not None and code != technician.code:
            continue
        jobs = [stop for stop in route["stops"] if stop["type"] == "job"]
        facts.travel_minutes += _travel_minutes(route)
        facts.routed_jobs += len(jobs)
        usage[code].work_minutes += sum(_span(stop["start"], stop["end"]) for stop in jobs)
        if (shift := shifts.get(code)) is not None:
            usage[code].shift_minutes += _minutes(
                datetime.combine(day, shift.end_time) - datetime.combine(day, shift.start_time)
            )


def _travel_minutes(route: Mapping[str, Any]) -> float:
    """A route's span less the time it is stopped: at a stop from arrival to end, or on break.

    A break may be taken while waiting at a site, so overlapping stops count once.
    """
    stopped, covered = 0.0, datetime.fromisoformat(route["depart"])
    for arrival, end in sorted(
        (datetime.fromisoformat(stop["arrival"]), datetime.fromisoformat(stop["end"]))
        for stop in route["stops"]
    ):
        stopped += max(_minutes(end - max(arrival, covered)), 0.0)
        covered = max(covered, end)
    return _span(route["depart"], route["return"]) - stopped


def _add_arrivals(
    session: Session,
    since: datetime,
    until: datetime,
    usage: dict[str, _Usage],
    technician: Technician | None,
) -> None:
    """Whether each job's first on-site report in the range came on time, by technician."""
    query = (
        select(StatusReport.device_time, Technician.code, Job)
        .join(Job, Job.id == StatusReport.job_id)
        .join(Technician, Technician.id == StatusReport.technician_id)
        .where(
            StatusReport.status == JobStatus.ON_SITE,
            StatusReport.device_time >= since,
            StatusReport.device_time < until,
        )
        .order_by(StatusReport.device_time)
    )
    if technician is not None:
        query = query.where(StatusReport.technician_id == technician.id)
    seen: set[int] = set()
    for arrived, code, job in session.execute(query):
        if job.id in seen:
            continue
        seen.add(job.id)
        on_time = _on_time(job, arrived)
        if on_time is not None:
            usage[code].arrivals.append(on_time)


def _on_time(job: Job, arrived: datetime) -> bool | None:
    if job.window_end is not None:
        return arrived <= job.window_end
    if job.planned_start is not None:
        return arrived <= job.planned_start + ON_TIME_GRACE
    return None


def _technician_figures(
    session: Session, usage: Mapping[str, _Usage]
) -> tuple[TechnicianKpis, ...]:
    names = {
        code: name
        for code, name in session.execute(
            select(Technician.code, Technician.name).where(Technician.code.in_(usage))
        )
    }
    return tuple(
        TechnicianKpis(
            code=code,
            name=names.get(code, code),
            work_minutes=round(use.work_minutes, 1),
            shift_minutes=round(use.shift_minutes, 1),
            utilization=round(use.work_minutes / use.shift_minutes, 4)
            if use.shift_minutes
            else None,
            on_time_arrival=_share(use.arrivals),
        )
        for code, use in sorted(usage.items())
    )


def _backlog(
    jobs: Iterable[Job], reached: Mapping[int, Mapping[str, datetime]], until: datetime
) -> dict[str, int]:
    """Jobs open at ``until``, counted by how long their request had waited by then."""
    counts = dict.fromkeys((label for label, _ in BACKLOG_BUCKETS), 0)
    for job in jobs:
        times = reached.get(job.id, {})
        if any(status in times for status in TERMINAL):
            continue  # finished (or cancelled) before the end of the range
        if job.status in TERMINAL and not times:
            continue  # finished, with no logged history to say when
        age_days = (until - job.request.created_at) / timedelta(days=1)
        label = next(
            label for label, bound in BACKLOG_BUCKETS if bound is None or age_days < bound
        )
        counts[label] += 1
    return counts


def _figures(facts: _Facts) -> Figures:
    return Figures(
        resolution_sla=_share(facts.resolution),
        response_sla=_share(facts.response),
        median_response_minutes=_median(facts.response_minutes),
        median_resolve_minutes=_median(facts.resolve_minutes),
        p90_resolve_minutes=_nearest_rank(facts.resolve_minutes, 0.9),
        first_time_fix=_share(facts.first_time),
        travel_minutes=round(facts.travel_minutes, 1),
        routed_jobs=facts.routed_jobs,
        travel_per_job_minutes=round(facts.travel_minutes / facts.routed_jobs, 1)
        if facts.routed_jobs
        else None,
    )


def _share(outcomes: list[bool]) -> Share:
    return Share(met=sum(outcomes), total=len(outcomes))


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _nearest_rank(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    return round(sorted(values)[math.ceil(fraction * len(values)) - 1], 1)


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _span(start: str, end: str) -> float:
    return _minutes(datetime.fromisoformat(end) - datetime.fromisoformat(start))


def _minutes(delta: timedelta) -> float:
    return delta / timedelta(minutes=1)

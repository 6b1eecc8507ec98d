"""A technician's day as the phone shows it: the route in order, and each job's card.

The route is the published plan's (warehouse calls with what to pick up, breaks, jobs)
restricted to the jobs still assigned to the technician; before any plan is published
it is the assigned jobs in planned order. Each stop has its planned arrival and an
estimate (``eta``): the plan shifted by how late the technician's latest report shows
them, and never in the past for a stop not reached yet; a stop pushed to the present
pushes the stops after it as much (nobody reaches the third stop before the second).
Times carry the service day's UTC offset.

A route is read as a :class:`RouteSnapshot`, which gives the answer at any moment
(only the estimates move with the clock), and :func:`route_version` names what it was
read from, so that a snapshot can be kept and served again until the version moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from dispatch.days import service_day
from dispatch.enums import JobStatus
from dispatch.field_models import FeedEvent, JobAttachment, JobNote, ReportOutcome, StatusReport
from dispatch.models import DayPlan, Job, ServiceRequest, Technician
from dispatch.planning.proposals import published
from inventory.models import Part, Reservation, StockLocation

#: How many earlier visits at a site a job card lists.
PAST_VISITS = 5
FINISHED = (JobStatus.COMPLETED, JobStatus.CANNOT_COMPLETE)


@dataclass(frozen=True, slots=True)
class RouteSnapshot:
    """A route as read, to be answered at a moment: the estimate of a stop not reached
    yet is never before that moment, nor earlier after it than the plan has it after
    the stop before. Read-only: answers share its parts."""

    body: dict[str, Any]
    zone: ZoneInfo
    #: (index in ``body["stops"]``, estimate) of each timed stop not reached yet, in order.
    not_reached: tuple[tuple[int, datetime], ...]

    def at(self, now: datetime) -> dict[str, Any]:
        """The route as answered at ``now``."""
        stops = list(self.body["stops"])
        pushed = timedelta(0)  # how far the present has pushed the stops so far
        for index, estimate in self.not_reached:
            pushed = max(pushed, now - estimate)
            if pushed > timedelta(0):
                moved = (estimate + pushed).astimezone(self.zone)
                stops[index] = {**stops[index], "eta": moved.isoformat()}
        return {**self.body, "stops": stops}


@dataclass(frozen=True, slots=True)
class RouteVersion:
    """What a technician's route answer is read from: their newest feed entry (every
    change to their jobs or to what their cards show writes one, see
    :mod:`dispatch.feed`) and the day's published version (0 before the first).
    Not covered: a catalog item's checklist edited, a warehouse's details, visits by
    others at the sites."""

    technician_id: int
    newest_entry: int
    published: int


def route_version(session: Session, user_id: int, day: date) -> RouteVersion | None:
    """The route version of the technician signed in as ``user_id`` (None if the account
    is linked to none), in one query: a phone asks on every route read."""
    row = session.execute(_VERSION, {"user_id": user_id, "day": day}).one_or_none()
    if row is None:
        return None
    return RouteVersion(row.id, row.newest_entry or 0, row.published or 0)


_VERSION = select(
    Technician.id,
    select(func.max(FeedEvent.id))
    .where(FeedEvent.technician_id == Technician.id)
    .scalar_subquery()
    .label("newest_entry"),
    select(DayPlan.version)
    .where(DayPlan.service_date == bindparam("day"))
    .scalar_subquery()
    .label("published"),
).where(Technician.user_id == bindparam("user_id"))


def route_of(session: Session, technician: Technician, day: date) -> RouteSnapshot:
    """The technician's route on ``day``: stops in order with planned times and estimates."""
    zone = _zone(session, day)
    jobs = {
        job.reference: job
        for job in session.scalars(
            job_query().where(Job.technician_id == technician.id, Job.service_date == day)
        )
    }
    current = published(session, day)
    planned = _planned_route(current[1].document if current else None, technician.code)
    stops: list[dict[str, Any]] = []
    if planned is None:
        ordered = sorted(
            jobs.values(), key=lambda j: (j.planned_start is None, j.planned_start, j.id)
        )
        planned = {
            "stops": [
                {
                    "type": "job",
                    "id": job.reference,
                    "arrival": _iso(job.planned_start, zone),
                    "start": _iso(job.planned_start, zone),
                    "end": _iso(job.planned_end, zone),
                }
                for job in ordered
            ]
        }
    warehouses = _warehouses(session, planned["stops"])
    delay = _delay(session, jobs.values(), planned["stops"])
    cards = job_cards(session, list(jobs.values()), zone)
    not_reached: list[tuple[int, datetime]] = []
    for stop in planned["stops"]:
        kind = stop["type"]
        entry: dict[str, Any] = {"type": kind, "sequence": len(stops)}
        if kind == "break":
            entry.update(start=stop["start"], end=stop["end"])
            stops.append(entry)
            continue
        if kind == "warehouse":
            location = warehouses.get(stop["id"])
            reached = False
            entry.update(
                warehouse=_warehouse(location, stop["id"]),
                pickup=[
                    {"sku": sku, "quantity": qty} for sku, qty in stop.get("pickup", {}).items()
                ],
            )
        else:
            job = jobs.get(stop["id"])
            if job is None:  # since reassigned, unassigned or cancelled
                continue
            reached = job.status not in _NOT_REACHED
            if reached:  # so were the stops before it, a warehouse call included
                not_reached.clear()
            entry["job"] = cards[job.id]
        estimate = _estimate(stop["arrival"], delay)
        if estimate is not None and not reached:
            not_reached.append((len(stops), estimate))
        entry.update(
            arrival=stop["arrival"],
            start=stop["start"],
            end=stop["end"],
            eta=estimate.astimezone(zone).isoformat() if estimate is not None else None,
        )
        stops.append(entry)
    body = {
        "technician": technician.code,
        "date": day.isoformat(),
        "timezone": zone.key,
        "version": current[0] if current else None,
        "stops": stops,
    }
    return RouteSnapshot(body, zone, tuple(not_reached))


_NOT_REACHED = (JobStatus.SCHEDULED, JobStatus.DISPATCHED, JobStatus.EN_ROUTE)


def job_cards(
    session: Session, jobs: Collection[Job], zone: ZoneInfo
) -> dict[int, dict[str, Any]]:
    """What the phone shows of each job (by job id), read in a fixed number of queries."""
    ids = [job.id for job in jobs]
    sources = _part_sources(session, ids)
    visits = _past_visits(session, jobs)
    notes = _notes(session, ids, zone)
    attachments = _attachments(session, ids)
    cards = {}
    for job in jobs:
        site, request = job.site, job.request
        catalog = request.catalog_item
        cards[job.id] = {
            "reference": job.reference,
            "title": job.title,
            "description": request.description,
            "status": job.status.value,
            "priority": job.priority.value,
            "service_date": job.service_date.isoformat() if job.service_date else None,
            "planned_start": _iso(job.planned_start, zone),
            "planned_end": _iso(job.planned_end, zone),
            "window_start": _iso(job.window_start, zone),
            "window_end": _iso(job.window_end, zone),
            "sla_due": _iso(job.sla_due, zone),
            "duration_min": job.duration_min,
            "site": {
                "name": site.name,
                "address": site.address,
                "latitude": site.latitude,
                "longitude": site.longitude,
                "access_notes": site.access_notes,
            },
            "contact": {
                "name": site.contact_name or request.requester_name,
                "phone": site.contact_phone or request.requester_phone,
            },
            "checklist": list(catalog.checklist) if catalog is not None else [],
            "parts": [
                {"sku": p.sku, "quantity": p.quantity, "sources": sources.get((job.id, p.sku), [])}
                for p in job.parts
            ],
            "past_visits": visits.get(job.id, []),
            "notes": notes.get(job.id, []),
            "attachments": attachments.get(job.id, []),
        }
    return cards


def job_query() -> Select[Job]:
    """Jobs with what a card shows loaded alongside."""
    return select(Job).options(
        selectinload(Job.site),
        selectinload(Job.parts),
        selectinload(Job.request).selectinload(ServiceRequest.catalog_item),
    )


def _zone(session: Session, day: date | None) -> ZoneInfo:
    setup = service_day(session, day) if day is not None else None
    return ZoneInfo(setup.timezone if setup is not None else "UTC")


def zone_of(session: Session, job: Job) -> ZoneInfo:
    """The time zone the job's day is planned in."""
    return _zone(session, job.service_date)


def _planned_route(document: Mapping[str, Any] | None, code: str) -> dict[str, Any] | None:
    if document is None:
        return None
    return next((r for r in document.get("routes", []) if r.get("technician") == code), None)


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def _delay(session: Session, jobs: Collection[Job], stops: list[dict[str, Any]]) -> timedelta:
    """How far behind the plan the technician's latest applied report shows them."""
    planned = {s["id"]: s for s in stops if s["type"] == "job"}
    by_id = {job.id: job.reference for job in jobs}
    latest = session.execute(
        select(StatusReport.job_id, StatusReport.status, StatusReport.device_time)
        .where(
            StatusReport.job_id.in_(list(by_id)),
            StatusReport.outcome == ReportOutcome.APPLIED,
            StatusReport.status.in_([JobStatus.ON_SITE, JobStatus.COMPLETED]),
        )
        .order_by(StatusReport.device_time.desc())
        .limit(1)
    ).first()
    if latest is None:
        return timedelta(0)
    stop = planned.get(by_id[latest.job_id])
    if stop is None:
        return timedelta(0)
    mark = stop["arrival"] if latest.status == JobStatus.ON_SITE else stop["end"]
    if mark is None:  # not timed by any plan
        return timedelta(0)
    reported: datetime = latest.device_time
    return reported - datetime.fromisoformat(mark)


def _estimate(arrival: str | None, delay: timedelta) -> datetime | None:
    """The planned arrival shifted by the delay (never earlier); None if not yet timed."""
    if arrival is None:
        return None
    return datetime.fromisoformat(arrival) + max(delay, timedelta(0))


def _warehouses(session: Session, stops: list[dict[str, Any]]) -> dict[str, StockLocation]:
    codes = {s["id"] for s in stops if s["type"] == "warehouse"}
    if not codes:
        return {}
    return {
        w.code: w
        for w in session.scalars(select(StockLocation).where(StockLocation.code.in_(codes)))
    }


def _warehouse(location: StockLocation | None, code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": location.name if location else code,
        "address": location.address if location else None,
        "latitude": location.latitude if location else None,
        "longitude": location.longitude if location else None,
    }


def _part_sources(
    session: Session, job_ids: list[int]
) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """Where each job's parts are held: in the van, or at a warehouse to pick up on the way."""
    if not job_ids:
        return {}
    rows = session.execute(
        select(Reservation, Part.sku, StockLocation.code, StockLocation.kind)
        .join(Part, Part.id == Reservation.part_id)
        .join(StockLocation, StockLocation.id == Reservation.location_id)
        .where(Reservation.job_id.in_(job_ids))
        .order_by(Reservation.job_id, Reservation.sequence, Reservation.id)
    )
    sources: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for line, sku, code, kind in rows:
        sources[(line.job_id, sku)].append(
            {"location": code, "kind": kind.value, "wanted": line.wanted, "held": line.reserved}
        )
    return sources


def _past_visits(session: Session, jobs: Collection[Job]) -> dict[int, list[dict[str, Any]]]:
    """The latest finished jobs at each job's site, newest first."""
    sites = {job.site_id for job in jobs}
    if not sites:
        return {}
    finished = session.execute(
        select(
            Job.site_id,
            Job.reference,
            Job.service_date,
            Job.status,
            Job.outcome_note,
            Technician.name,
        )
        .outerjoin(Technician, Technician.id == Job.technician_id)
        .where(Job.site_id.in_(sites), Job.status.in_(FINISHED))
        .order_by(Job.service_date.desc(), Job.id.desc())
    )
    by_site: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for site_id, reference, day, status, note, name in finished:
        by_site[site_id].append(
            {
                "reference": reference,
                "date": day.isoformat() if day else None,
                "status": status.value,
                "outcome_note": note,
                "technician": name,
            }
        )
    return {
        job.id: [v for v in by_site.get(job.site_id, []) if v["reference"] != job.reference][
            :PAST_VISITS
        ]
        for job in jobs
    }


def _notes(
    session: Session, job_ids: list[int], zone: ZoneInfo
) -> dict[int, list[dict[str, Any]]]:
    notes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if job_ids:
        for note in session.scalars(
            select(JobNote).where(JobNote.job_id.in_(job_ids)).order_by(JobNote.device_time)
        ):
            notes[note.job_id].append(
                {
                    "id": str(note.id),
                    "body": note.body,
                    "device_time": _iso(note.device_time, zone),
                }
            )
    return notes


def _attachments(session: Session, job_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if job_ids:
        for item in session.scalars(
            select(JobAttachment)
            .where(JobAttachment.job_id.in_(job_ids))
            .order_by(JobAttachment.created_at)
        ):
            found[item.job_id].append(
                {
                    "id": str(item.id),
                    "kind": item.kind.value,
                    "content_type": item.content_type,
                    "size_bytes": item.size_bytes,
                }
            )
    return found

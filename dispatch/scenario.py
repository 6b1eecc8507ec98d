"""Import and export service days in the ``fieldops-scenario/1`` interchange format.

A scenario is one day to plan: parts, warehouses, technicians and jobs (``docs/FORMAT.md``).
Importing checks it with the optimizer's reader (the one judge of the format) and then
against the database (``dispatch.scenario_checks``), and writes it as the rows the planner
reads: dispatch's own rows here, parts, stock and vans through ``inventory.service``.
Exporting gives a day back as the optimizer will see it, so days round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import literal, select
from sqlalchemy.orm import Session, selectinload

from dispatch.days import plannable_jobs, technicians_working
from dispatch.enums import Channel, JobStatus, Priority
from dispatch.models import (
    Job,
    JobPart,
    ServiceDay,
    ServiceRequest,
    Site,
    Technician,
    WorkingHours,
)
from dispatch.scenario_checks import REQUEST_PREFIX, database_problems, request_reference
from inventory import service as inventory_service
from inventory.models import StockLocation
from inventory.service import VanData, WarehouseData
from optimizer import SCENARIO_FORMAT, InvalidProblem, scenario_problem


class ScenarioError(ValueError):
    """A scenario that cannot be imported, or a day that cannot be exported.

    ``problems`` lists everything wrong at once, each naming the entity and field,
    so that one round of corrections is enough.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("scenario problems:\n" + "\n".join(f"- {p}" for p in problems))


class DayExists(ScenarioError):
    """The scenario's day is in the database already; importing again must replace it."""

    def __init__(self, day: date, jobs: int) -> None:
        self.day = day
        self.jobs = jobs
        super().__init__([f"date: {day.isoformat()} is imported already ({jobs} imported jobs)"])


@dataclass(frozen=True)
class ImportSummary:
    """How many of each kind of entity an import wrote (created or updated) or replaced."""

    parts: int
    warehouses: int
    technicians: int
    jobs: int
    replaced_jobs: int = 0


def import_scenario(
    session: Session, data: dict[str, Any], *, replace: bool = False
) -> ImportSummary:
    """Write a scenario as the service day, parts, stock, technicians and triaged jobs.

    Parts (by SKU), warehouses and technicians (by id) already stored are updated, so
    several days can share them; a technician's shift on the scenario's weekday and van
    stock, and each warehouse's stock, become what the scenario says.

    Parameters
    ----------
    session
        Receives the rows and is flushed, never committed: the caller owns the transaction.
    data
        A ``fieldops-scenario/1`` document as parsed from JSON. Jobs may carry a ``title``
        (default: the job id); a technician without a ``break`` has no break rule.
    replace
        Delete the jobs an earlier import wrote for the same day first. Without it, a day
        that is in the database already is refused.

    Returns
    -------
    ImportSummary
        The number of parts, warehouses, technicians and jobs written, and of jobs replaced.

    Raises
    ------
    DayExists
        The day is stored already and ``replace`` is false.
    ScenarioError
        Listing every problem of the document (the format's, then the database's: ids
        taken or reserved, text too long for its column), or the imported jobs of the day
        that cannot be replaced because they moved on from triaged. Raised before anything is
        added to the session.
    """
    try:
        scenario_problem(data)
    except InvalidProblem as exc:
        raise ScenarioError(exc.problems) from None
    day = date.fromisoformat(data["date"])
    imported = imported_jobs(session, day)
    if not replace and session.get(ServiceDay, day) is not None:
        raise DayExists(day, len(imported))
    replaced = imported if replace else []
    planned = [job for job in replaced if job.status != JobStatus.TRIAGED]
    if planned:
        raise ScenarioError(
            [
                f"date: job {job.reference} of {day.isoformat()} is {job.status.value}:"
                " a day is replaced only while all its imported jobs are still triaged"
                for job in planned
            ]
        )
    problems = database_problems(session, data, replacing={job.reference for job in replaced})
    if problems:
        raise ScenarioError(problems)

    _delete_jobs(session, replaced)
    _write_service_day(session, day, data)
    inventory_service.upsert_parts(session, {p["sku"]: p["name"] for p in data["parts"]})
    inventory_service.upsert_warehouses(session, [_warehouse(w) for w in data["warehouses"]])
    technicians = _write_technicians(session, data["technicians"], day)
    inventory_service.upsert_vans(
        session, [_van(technicians[item["id"]], item) for item in data["technicians"]]
    )
    _write_jobs(session, data, day, technicians)
    session.flush()
    return ImportSummary(
        parts=len(data["parts"]),
        warehouses=len(data["warehouses"]),
        technicians=len(data["technicians"]),
        jobs=len(data["jobs"]),
        replaced_jobs=len(replaced),
    )


def imported_jobs(session: Session, day: date) -> list[Job]:
    """The jobs a scenario import wrote for ``day`` (their request is ``SR-<job id>``)."""
    return list(
        session.scalars(
            select(Job)
            .join(Job.request)
            .where(
                Job.service_date == day,
                ServiceRequest.reference == literal(REQUEST_PREFIX) + Job.reference,
            )
            .options(selectinload(Job.parts), selectinload(Job.request), selectinload(Job.site))
            .order_by(Job.id)
        )
    )


def export_scenario(session: Session, day: date) -> dict[str, Any]:
    """The day as the optimizer will see it, as a ``fieldops-scenario/1`` document.

    It holds every part and warehouse, the active technicians who have a shift that day
    (not on a day off), and the day's open jobs (``dispatch.days.PLANNABLE_STATUSES``).
    A job pinned to a technician who does not work that day is exported unpinned, since
    the format allows pins only to the day's technicians. Clock times are local to the
    day's time zone.

    Parameters
    ----------
    session
        Read only.
    day
        The service day to export.

    Returns
    -------
    dict
        The document, keys in the format's order, ready for ``json.dump``.

    Raises
    ------
    ScenarioError
        No service day exists for ``day``.
    """
    service_day = session.get(ServiceDay, day)
    if service_day is None:
        raise ScenarioError([f"date: no service day on {day.isoformat()}"])
    zone = ZoneInfo(service_day.timezone)

    parts = inventory_service.parts(session)
    warehouses = inventory_service.warehouses(session)
    technicians = technicians_working(session, day)
    vans = inventory_service.vans_of(session, (t.id for t in technicians))
    jobs = plannable_jobs(session, day)

    return {
        "format": SCENARIO_FORMAT,
        "name": service_day.name,
        "date": day.isoformat(),
        "timezone": service_day.timezone,
        "travel": {
            "model": service_day.travel_model,
            "speed_kmh": service_day.travel_speed_kmh,
            "circuity": service_day.travel_circuity,
        },
        "parts": [{"sku": part.sku, "name": part.name} for part in parts],
        "warehouses": [_warehouse_entry(warehouse) for warehouse in warehouses],
        "technicians": [_technician_entry(t, day, vans.get(t.id)) for t in technicians],
        "jobs": [_job_entry(job, zone, {t.code for t in technicians}) for job in jobs],
    }


# --- writing -----------------------------------------------------------------------------


def _write_service_day(session: Session, day: date, data: dict[str, Any]) -> None:
    service_day = session.get(ServiceDay, day)
    if service_day is None:
        service_day = ServiceDay(day=day)
        session.add(service_day)
    service_day.name = data["name"]
    service_day.timezone = data["timezone"]
    service_day.travel_model = data["travel"]["model"]
    service_day.travel_speed_kmh = data["travel"]["speed_kmh"]
    service_day.travel_circuity = data["travel"]["circuity"]


def _delete_jobs(session: Session, jobs: list[Job]) -> None:
    """Delete imported jobs with the request and site each came with.

    Flushed, so that the new jobs may take the same ids in the next flush.
    """
    for job in jobs:
        session.delete(job)
        session.delete(job.request)
        session.delete(job.site)
    session.flush()


def _warehouse(item: dict[str, Any]) -> WarehouseData:
    return WarehouseData(
        code=item["id"],
        name=item["name"],
        latitude=item["location"]["lat"],
        longitude=item["location"]["lon"],
        opens=time.fromisoformat(item["hours"][0]),
        closes=time.fromisoformat(item["hours"][1]),
        pickup_minutes=item["pickup_minutes"],
        stock=item["stock"],
    )


def _van(technician: Technician, item: dict[str, Any]) -> VanData:
    return VanData(technician.id, technician.code, technician.name, item["van_stock"])


def _write_technicians(
    session: Session, items: list[dict[str, Any]], day: date
) -> dict[str, Technician]:
    """Upsert the technicians by code with their shift on ``day``; flushed, so ids exist."""
    codes = [item["id"] for item in items]
    existing = {
        technician.code: technician
        for technician in session.scalars(
            select(Technician)
            .where(Technician.code.in_(codes))
            .options(selectinload(Technician.working_hours))
        )
    }
    technicians: dict[str, Technician] = {}
    for item in items:
        technician = existing.get(item["id"])
        if technician is None:
            technician = Technician(code=item["id"])
            session.add(technician)
        _set_technician_fields(technician, item, day)
        technicians[item["id"]] = technician
    session.flush()  # a van names its technician by id (no relationship across packages)
    return technicians


def _set_technician_fields(technician: Technician, item: dict[str, Any], day: date) -> None:
    start, end = item["start"], item["end"]
    technician.name = item["name"]
    technician.skills = list(item["skills"])
    technician.home_latitude = start["lat"]
    technician.home_longitude = start["lon"]
    # The model keeps an end only when the day does not finish where it started.
    ends_elsewhere = (end["lat"], end["lon"]) != (start["lat"], start["lon"])
    technician.end_latitude = end["lat"] if ends_elsewhere else None
    technician.end_longitude = end["lon"] if ends_elsewhere else None
    rule = item.get("break")
    if rule is None:
        technician.break_earliest = technician.break_latest = technician.break_minutes = None
    else:
        technician.break_earliest = time.fromisoformat(rule["earliest"])
        technician.break_latest = time.fromisoformat(rule["latest"])
        technician.break_minutes = rule["minutes"]

    # Only the scenario's weekday is known; other weekdays keep whatever they had.
    weekday = day.weekday()
    hours = next((h for h in technician.working_hours if h.weekday == weekday), None)
    if hours is None:
        hours = WorkingHours(weekday=weekday)
        technician.working_hours.append(hours)
    hours.start_time = time.fromisoformat(item["shift"][0])
    hours.end_time = time.fromisoformat(item["shift"][1])


def _write_jobs(
    session: Session, data: dict[str, Any], day: date, technicians: dict[str, Technician]
) -> None:
    """One site, service request and triaged job per scenario job."""
    zone = ZoneInfo(data["timezone"])
    for item in data["jobs"]:
        title = item.get("title", item["id"])
        priority = Priority(item["priority"])
        window = item.get("window")
        due = item.get("sla_due")
        sla_due = datetime.fromisoformat(due).astimezone(UTC) if due is not None else None
        pinned = item.get("pinned_to")
        site = Site(
            name=title,
            address="",
            latitude=item["location"]["lat"],
            longitude=item["location"]["lon"],
        )
        request = ServiceRequest(
            reference=request_reference(item["id"]),
            channel=Channel.API,
            requester_name=f"scenario {data['name']}",
            site=site,
            title=title,
            priority=priority,
            sla_resolution_due=sla_due,
        )
        session.add(
            Job(
                reference=item["id"],
                request=request,
                site=site,
                title=title,
                status=JobStatus.TRIAGED,
                priority=priority,
                duration_min=item["duration_min"],
                required_skills=list(item["skills"]),
                service_date=day,
                window_start=_instant(day, window[0], zone) if window else None,
                window_end=_instant(day, window[1], zone) if window else None,
                sla_due=sla_due,
                pinned_technician=technicians[pinned] if pinned is not None else None,
                parts=[
                    JobPart(sku=sku, quantity=quantity, position=position)
                    for position, (sku, quantity) in enumerate(item["parts"].items())
                ],
            )
        )


def _instant(day: date, clock: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local ``HH:MM`` on ``day`` in ``zone``."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=zone).astimezone(UTC)


# --- export ------------------------------------------------------------------------------


def _hhmm(clock: time | datetime) -> str:
    return clock.strftime("%H:%M")


def _warehouse_entry(warehouse: StockLocation) -> dict[str, Any]:
    # The warehouse_complete constraint guarantees these are set on warehouses.
    assert warehouse.opens is not None and warehouse.closes is not None
    return {
        "id": warehouse.code,
        "name": warehouse.name,
        "location": {"lat": warehouse.latitude, "lon": warehouse.longitude},
        "hours": [_hhmm(warehouse.opens), _hhmm(warehouse.closes)],
        "pickup_minutes": warehouse.pickup_minutes,
        "stock": inventory_service.on_hand(warehouse),
    }


def _technician_entry(
    technician: Technician, day: date, van: StockLocation | None
) -> dict[str, Any]:
    shift = technician.shift_on(day)
    assert shift is not None  # only technicians working that day are exported
    ends_at_start = technician.end_latitude is None or technician.end_longitude is None
    entry: dict[str, Any] = {
        "id": technician.code,
        "name": technician.name,
        "skills": list(technician.skills),
        "start": {"lat": technician.home_latitude, "lon": technician.home_longitude},
        "end": (
            {"lat": technician.home_latitude, "lon": technician.home_longitude}
            if ends_at_start
            else {"lat": technician.end_latitude, "lon": technician.end_longitude}
        ),
        "shift": [_hhmm(shift.start_time), _hhmm(shift.end_time)],
    }
    # Left out when there is none: the format makes the break optional.
    if (
        technician.break_earliest is not None
        and technician.break_latest is not None
        and technician.break_minutes is not None
    ):
        entry["break"] = {
            "earliest": _hhmm(technician.break_earliest),
            "latest": _hhmm(technician.break_latest),
            "minutes": technician.break_minutes,
        }
    entry["van_stock"] = inventory_service.on_hand(van)
    return entry


def _job_entry(job: Job, zone: ZoneInfo, working: set[str]) -> dict[str, Any]:
    window = None
    if job.window_start is not None and job.window_end is not None:
        window = [
            _hhmm(job.window_start.astimezone(zone)),
            _hhmm(job.window_end.astimezone(zone)),
        ]
    pinned = job.pinned_technician.code if job.pinned_technician else None
    return {
        "id": job.reference,
        "title": job.title,
        "location": {"lat": job.site.latitude, "lon": job.site.longitude},
        "duration_min": job.duration_min,
        "skills": list(job.required_skills),
        "parts": {part.sku: part.quantity for part in job.parts},
        "priority": job.priority.value,
        "window": window,
        "sla_due": job.sla_due.astimezone(zone).isoformat() if job.sla_due else None,
        "pinned_to": pinned if pinned in working else None,
    }

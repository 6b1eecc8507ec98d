"""Import and export service days in the ``fieldops-scenario/1`` interchange format.

A scenario is one day to plan: parts, warehouses, technicians and jobs (see the shared
benchmarks' FORMAT.md). Importing writes it as the rows the planner reads; exporting gives
a day back as the optimizer will see it, so benchmark days round-trip through the database.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

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
from inventory.models import LocationKind, Part, StockLevel, StockLocation

FORMAT = "fieldops-scenario/1"

#: Jobs still to plan or under way on their day: the ones an export hands the optimizer.
OPEN_STATUSES = (
    JobStatus.TRIAGED,
    JobStatus.SCHEDULED,
    JobStatus.DISPATCHED,
    JobStatus.EN_ROUTE,
    JobStatus.ON_SITE,
    JobStatus.PAUSED,
)

# Column sizes the identifiers must fit: a job id is also stored as "SR-<id>" in a
# 32-character column, a technician id as "VAN-<id>" in a 40-character one.
_MAX_JOB_ID = 29
_MAX_TECHNICIAN_ID = 36
_MAX_CODE = 40
_MAX_NAME = 200
_MAX_DAY_NAME = 100

_CLOCK = re.compile(r"[0-9]{2}:[0-9]{2}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ScenarioError(ValueError):
    """A scenario that cannot be imported, or a day that cannot be exported.

    ``problems`` lists everything wrong at once, each naming the entity and field,
    so that one round of corrections is enough.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("scenario problems:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class ImportSummary:
    """How many of each kind of entity an import wrote (created or updated)."""

    parts: int
    warehouses: int
    technicians: int
    jobs: int


def import_scenario(session: Session, data: dict[str, Any]) -> ImportSummary:
    """Write a scenario as the service day, parts, stock, technicians and triaged jobs.

    Parts, warehouses and technicians already known (by SKU, id and id) are updated,
    so several days can share them; the scenario's weekday shift and the van stock of
    each technician are replaced. Jobs must be new.

    Parameters
    ----------
    session
        Receives the rows and is flushed, never committed: the caller owns the transaction.
    data
        A ``fieldops-scenario/1`` document as parsed from JSON. Jobs may carry a ``title``
        (default: the job id); a technician without a ``break`` has no break rule.

    Returns
    -------
    ImportSummary
        The number of parts, warehouses, technicians and jobs written.

    Raises
    ------
    ScenarioError
        Listing every problem of the document, including job ids already in the
        database. It is raised before anything is added to the session.
    """
    problems = _find_problems(session, data)
    if problems:
        raise ScenarioError(problems)
    day = date.fromisoformat(data["date"])
    _write_service_day(session, day, data)
    parts = _write_parts(session, data["parts"])
    _write_warehouses(session, data["warehouses"], parts)
    technicians = _write_technicians(session, data["technicians"], day, parts)
    _write_jobs(session, data, day, technicians)
    session.flush()
    return ImportSummary(
        parts=len(data["parts"]),
        warehouses=len(data["warehouses"]),
        technicians=len(data["technicians"]),
        jobs=len(data["jobs"]),
    )


def export_scenario(session: Session, day: date) -> dict[str, Any]:
    """The day as the optimizer will see it, as a ``fieldops-scenario/1`` document.

    It holds every part and warehouse, the active technicians who have a shift that day
    (not on a day off), and the day's open jobs (``OPEN_STATUSES``). Clock times are
    local to the day's time zone.

    Parameters
    ----------
    session
        Read only.
    day
        The service day to export.

    Returns
    -------
    dict
        The document, keys in the order of FORMAT.md, ready for ``json.dump``.

    Raises
    ------
    ScenarioError
        No service day exists for ``day``.
    """
    service_day = session.get(ServiceDay, day)
    if service_day is None:
        raise ScenarioError([f"date: no service day on {day.isoformat()}"])
    zone = ZoneInfo(service_day.timezone)

    parts = session.scalars(select(Part).order_by(Part.id)).all()
    warehouses = session.scalars(
        select(StockLocation)
        .where(StockLocation.kind == LocationKind.WAREHOUSE)
        .options(selectinload(StockLocation.levels))
        .order_by(StockLocation.id)
    ).all()
    candidates = session.scalars(
        select(Technician)
        .where(Technician.active)
        .options(selectinload(Technician.working_hours), selectinload(Technician.days_off))
        .order_by(Technician.id)
    ).all()
    technicians = [t for t in candidates if t.shift_on(day) is not None]
    vans = {
        van.technician_id: van
        for van in session.scalars(
            select(StockLocation)
            .where(
                StockLocation.kind == LocationKind.VAN,
                StockLocation.technician_id.in_([t.id for t in technicians]),
            )
            .options(selectinload(StockLocation.levels))
        )
    }
    jobs = session.scalars(
        select(Job)
        .where(Job.service_date == day, Job.status.in_(OPEN_STATUSES))
        .options(
            joinedload(Job.site),
            joinedload(Job.pinned_technician),
            selectinload(Job.parts),
        )
        .order_by(Job.id)
    ).all()

    return {
        "format": FORMAT,
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
        "jobs": [_job_entry(job, zone) for job in jobs],
    }


# --- validation --------------------------------------------------------------------------


class _Checker:
    """Collects the problems of one document, each prefixed by where it was found."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def check(self, ok: bool, path: str, message: str) -> bool:
        if not ok:
            self.fail(path, message)
        return ok

    def text(self, path: str, value: Any, max_length: int) -> bool:
        ok = isinstance(value, str) and bool(value.strip()) and len(value) <= max_length
        return self.check(
            ok, path, f"must be a non-empty text of at most {max_length} characters, got {value!r}"
        )

    def integer(self, path: str, value: Any, minimum: int) -> bool:
        ok = _is_integer(value) and value >= minimum
        return self.check(ok, path, f"must be {_integer_kind(minimum)}, got {value!r}")

    def clock(self, path: str, value: Any) -> time | None:
        parsed = _parse_clock(value)
        self.check(parsed is not None, path, f"{value!r} is not a HH:MM time")
        return parsed

    def span(self, path: str, value: Any) -> None:
        """A ``[start, end]`` pair of clock times with start before end."""
        if not (isinstance(value, list) and len(value) == 2):
            self.fail(path, f"must be [start, end] as HH:MM times, got {value!r}")
            return
        start, end = self.clock(path, value[0]), self.clock(path, value[1])
        if start is not None and end is not None:
            self.check(start < end, path, f"start {value[0]} is not before end {value[1]}")

    def location(self, path: str, value: Any) -> None:
        if not isinstance(value, dict):
            self.fail(path, f"must be an object with lat and lon, got {value!r}")
            return
        lat, lon = value.get("lat"), value.get("lon")
        self.check(
            _is_number(lat) and -90 <= lat <= 90,
            f"{path}.lat",
            f"must be a number from -90 to 90, got {lat!r}",
        )
        self.check(
            _is_number(lon) and -180 <= lon <= 180,
            f"{path}.lon",
            f"must be a number from -180 to 180, got {lon!r}",
        )

    def skills(self, path: str, value: Any) -> None:
        ok = isinstance(value, list) and all(isinstance(s, str) and s.strip() for s in value)
        self.check(ok, path, f"must be a list of skill names, got {value!r}")

    def quantities(self, path: str, value: Any, skus: set[str], minimum: int) -> None:
        """A mapping of SKU to quantity, every SKU one of the scenario's parts."""
        if not isinstance(value, dict):
            self.fail(path, f"must be an object of SKU to quantity, got {value!r}")
            return
        for sku, quantity in value.items():
            self.check(sku in skus, path, f"unknown part {sku!r}")
            self.check(
                _is_integer(quantity) and quantity >= minimum,
                path,
                f"quantity of {sku!r} must be {_integer_kind(minimum)}, got {quantity!r}",
            )

    def entities(self, data: dict[str, Any], section: str) -> list[tuple[str, dict[str, Any]]]:
        """The objects of a section, each with its label such as ``jobs[3] (J-0004)``."""
        items = data.get(section)
        if not isinstance(items, list):
            self.fail(section, f"must be a list, got {type(items).__name__}")
            return []
        key = "sku" if section == "parts" else "id"
        labelled = []
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            if not isinstance(item, dict):
                self.fail(where, f"must be an object, got {item!r}")
                continue
            label = item.get(key)
            labelled.append((f"{where} ({label})" if isinstance(label, str) else where, item))
        return labelled

    def unique_ids(
        self, entities: list[tuple[str, dict[str, Any]]], key: str, max_length: int
    ) -> set[str]:
        """Check the entities' ids; returns the valid ones, for references to check against."""
        seen: dict[str, str] = {}
        for where, item in entities:
            value = item.get(key)
            if not self.text(f"{where}.{key}", value, max_length):
                continue
            if value in seen:
                self.fail(f"{where}.{key}", f"duplicate of {seen[value]}")
            else:
                seen[value] = where
        return set(seen)


def _find_problems(session: Session, data: Any) -> list[str]:
    """Every problem of the document, in document order; empty when it can be imported."""
    if not isinstance(data, dict):
        return [f"scenario: must be a JSON object, got {type(data).__name__}"]
    checker = _Checker()
    fmt = data.get("format")
    checker.check(fmt == FORMAT, "format", f"must be {FORMAT!r}, got {fmt!r}")
    checker.text("name", data.get("name"), _MAX_DAY_NAME)
    day = data.get("date")
    checker.check(_parse_date(day) is not None, "date", f"must be a YYYY-MM-DD date, got {day!r}")
    zone = data.get("timezone")
    checker.check(_is_time_zone(zone), "timezone", f"unknown time zone {zone!r}")
    _check_travel(checker, data.get("travel"))

    parts = checker.entities(data, "parts")
    skus = checker.unique_ids(parts, "sku", _MAX_CODE)
    for where, part in parts:
        checker.text(f"{where}.name", part.get("name"), _MAX_NAME)

    warehouses = checker.entities(data, "warehouses")
    checker.unique_ids(warehouses, "id", _MAX_CODE)
    for where, warehouse in warehouses:
        _check_warehouse(checker, where, warehouse, skus)

    technicians = checker.entities(data, "technicians")
    technician_ids = checker.unique_ids(technicians, "id", _MAX_TECHNICIAN_ID)
    for where, technician in technicians:
        _check_technician(checker, where, technician, skus)

    jobs = checker.entities(data, "jobs")
    job_ids = checker.unique_ids(jobs, "id", _MAX_JOB_ID)
    # One query for all ids: a day has up to thousands of jobs.
    known = select(Job.reference).where(Job.reference.in_(sorted(job_ids)))
    existing = set(session.scalars(known))
    for where, job in jobs:
        job_id = job.get("id")
        if isinstance(job_id, str) and job_id in existing:
            checker.fail(f"{where}.id", f"job {job_id} already exists")
        _check_job(checker, where, job, skus, technician_ids)
    return checker.problems


def _check_travel(checker: _Checker, travel: Any) -> None:
    if not isinstance(travel, dict):
        checker.fail("travel", f"must be an object, got {travel!r}")
        return
    model, speed, circuity = travel.get("model"), travel.get("speed_kmh"), travel.get("circuity")
    checker.check(model == "geodesic", "travel.model", f"must be 'geodesic', got {model!r}")
    checker.check(
        _is_number(speed) and speed > 0,
        "travel.speed_kmh",
        f"must be a positive number, got {speed!r}",
    )
    checker.check(
        _is_number(circuity) and circuity >= 1,
        "travel.circuity",
        f"must be a number of at least 1, got {circuity!r}",
    )


def _check_warehouse(
    checker: _Checker, where: str, warehouse: dict[str, Any], skus: set[str]
) -> None:
    checker.text(f"{where}.name", warehouse.get("name"), _MAX_NAME)
    checker.location(f"{where}.location", warehouse.get("location"))
    checker.span(f"{where}.hours", warehouse.get("hours"))
    checker.integer(f"{where}.pickup_minutes", warehouse.get("pickup_minutes"), 0)
    checker.quantities(f"{where}.stock", warehouse.get("stock"), skus, 0)


def _check_technician(
    checker: _Checker, where: str, technician: dict[str, Any], skus: set[str]
) -> None:
    checker.text(f"{where}.name", technician.get("name"), _MAX_NAME)
    checker.skills(f"{where}.skills", technician.get("skills"))
    checker.location(f"{where}.start", technician.get("start"))
    checker.location(f"{where}.end", technician.get("end"))
    checker.span(f"{where}.shift", technician.get("shift"))
    rule = technician.get("break")
    if isinstance(rule, dict):
        earliest = checker.clock(f"{where}.break.earliest", rule.get("earliest"))
        latest = checker.clock(f"{where}.break.latest", rule.get("latest"))
        if earliest is not None and latest is not None:
            checker.check(
                earliest <= latest,
                f"{where}.break",
                f"earliest {rule['earliest']} is after latest {rule['latest']}",
            )
        checker.integer(f"{where}.break.minutes", rule.get("minutes"), 1)
    elif rule is not None:
        checker.fail(f"{where}.break", f"must be an object or absent, got {rule!r}")
    checker.quantities(f"{where}.van_stock", technician.get("van_stock"), skus, 0)


def _check_job(
    checker: _Checker, where: str, job: dict[str, Any], skus: set[str], technician_ids: set[str]
) -> None:
    if "title" in job:
        checker.text(f"{where}.title", job["title"], _MAX_NAME)
    checker.location(f"{where}.location", job.get("location"))
    checker.integer(f"{where}.duration_min", job.get("duration_min"), 1)
    checker.skills(f"{where}.skills", job.get("skills"))
    checker.quantities(f"{where}.parts", job.get("parts"), skus, 1)
    priority = job.get("priority")
    checker.check(
        priority in tuple(Priority),
        f"{where}.priority",
        f"must be one of {', '.join(Priority)}, got {priority!r}",
    )
    if job.get("window") is not None:
        checker.span(f"{where}.window", job["window"])
    due = job.get("sla_due")
    if due is not None:
        checker.check(
            _parse_instant(due) is not None,
            f"{where}.sla_due",
            f"must be an ISO 8601 instant with a UTC offset, got {due!r}",
        )
    pinned = job.get("pinned_to")
    if pinned is not None:
        checker.check(
            isinstance(pinned, str) and pinned in technician_ids,
            f"{where}.pinned_to",
            f"unknown technician {pinned!r}",
        )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer_kind(minimum: int) -> str:
    return "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_time_zone(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: not even a well-formed key
        return False
    return True


def _parse_clock(value: Any) -> time | None:
    if not (isinstance(value, str) and _CLOCK.fullmatch(value)):
        return None
    hour, minute = int(value[:2]), int(value[3:])
    return time(hour, minute) if hour < 24 and minute < 60 else None


def _parse_date(value: Any) -> date | None:
    # fromisoformat alone also takes "20261124" and week dates; FORMAT.md means YYYY-MM-DD.
    if not (isinstance(value, str) and _DATE.fullmatch(value)):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


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


def _write_parts(session: Session, items: list[dict[str, Any]]) -> dict[str, Part]:
    """Upsert the parts by SKU; flushed, since stock levels refer to them by id."""
    skus = [item["sku"] for item in items]
    parts = {part.sku: part for part in session.scalars(select(Part).where(Part.sku.in_(skus)))}
    for item in items:
        part = parts.get(item["sku"])
        if part is None:
            part = parts[item["sku"]] = Part(sku=item["sku"])
            session.add(part)
        part.name = item["name"]
    session.flush()
    return parts


def _write_warehouses(
    session: Session, items: list[dict[str, Any]], parts: dict[str, Part]
) -> None:
    codes = [item["id"] for item in items]
    existing = {
        warehouse.code: warehouse
        for warehouse in session.scalars(
            select(StockLocation)
            .where(StockLocation.kind == LocationKind.WAREHOUSE, StockLocation.code.in_(codes))
            .options(selectinload(StockLocation.levels))
        )
    }
    for item in items:
        warehouse = existing.get(item["id"])
        if warehouse is None:
            warehouse = StockLocation(code=item["id"], kind=LocationKind.WAREHOUSE)
            session.add(warehouse)
        warehouse.name = item["name"]
        warehouse.latitude = item["location"]["lat"]
        warehouse.longitude = item["location"]["lon"]
        warehouse.opens = time.fromisoformat(item["hours"][0])
        warehouse.closes = time.fromisoformat(item["hours"][1])
        warehouse.pickup_minutes = item["pickup_minutes"]
        _set_levels(warehouse, item["stock"], parts)


def _write_technicians(
    session: Session, items: list[dict[str, Any]], day: date, parts: dict[str, Part]
) -> dict[str, Technician]:
    """Upsert the technicians by code, with their shift on ``day`` and their vans."""
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

    vans = {
        van.technician_id: van
        for van in session.scalars(
            select(StockLocation)
            .where(
                StockLocation.kind == LocationKind.VAN,
                StockLocation.technician_id.in_([t.id for t in technicians.values()]),
            )
            .options(selectinload(StockLocation.levels))
        )
    }
    for item in items:
        technician = technicians[item["id"]]
        van = vans.get(technician.id)
        if van is None:
            van = StockLocation(kind=LocationKind.VAN, technician_id=technician.id)
            session.add(van)
        van.code = f"VAN-{technician.code}"
        van.name = f"Van of {technician.name}"
        _set_levels(van, item["van_stock"], parts)
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


def _set_levels(
    location: StockLocation, quantities: dict[str, int], parts: dict[str, Part]
) -> None:
    """Make the location's stock exactly ``quantities``, in their listing order.

    Rows of parts still listed are updated in place rather than deleted and re-created,
    so the event log shows a changed quantity as an update.
    """
    current = {level.part_id: level for level in location.levels}
    levels = []
    for position, (sku, quantity) in enumerate(quantities.items()):
        part = parts[sku]
        level = current.get(part.id) or StockLevel(part=part)
        level.on_hand = quantity
        level.position = position
        levels.append(level)
    location.levels = levels


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
            reference=f"SR-{item['id']}",
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


def _stock(location: StockLocation | None) -> dict[str, int]:
    if location is None:  # a technician added outside an import may have no van yet
        return {}
    return {level.part.sku: level.on_hand for level in location.levels}


def _warehouse_entry(warehouse: StockLocation) -> dict[str, Any]:
    # The warehouse_complete constraint guarantees these are set on warehouses.
    assert warehouse.opens is not None and warehouse.closes is not None
    return {
        "id": warehouse.code,
        "name": warehouse.name,
        "location": {"lat": warehouse.latitude, "lon": warehouse.longitude},
        "hours": [_hhmm(warehouse.opens), _hhmm(warehouse.closes)],
        "pickup_minutes": warehouse.pickup_minutes,
        "stock": _stock(warehouse),
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
    # Absent, as on import: FORMAT.md makes the break optional, not nullable.
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
    entry["van_stock"] = _stock(van)
    return entry


def _job_entry(job: Job, zone: ZoneInfo) -> dict[str, Any]:
    window = None
    if job.window_start is not None and job.window_end is not None:
        window = [
            _hhmm(job.window_start.astimezone(zone)),
            _hhmm(job.window_end.astimezone(zone)),
        ]
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
        "pinned_to": job.pinned_technician.code if job.pinned_technician else None,
    }

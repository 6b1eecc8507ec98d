"""What the dispatcher's board and map draw of a plan: routes, timelines, jobs left out.

Both read a ``fieldops-plan/1`` document (the published plan's or a proposal's) with the
day's jobs, technicians and warehouses as they stand now: the plan says who goes where
and when, the database says what each job is and how far it has got. Times carry the
service day's UTC offset, never raw UTC.

Decisions:

- Each technician keeps one colour everywhere: ``PALETTE`` taken in order of every
  technician's code (sorted in Python, so both databases agree), starting over after the
  twelfth. A proposal therefore draws a technician in the same colour as the published plan.
- A travel item is the drive itself, not the whole gap between two stops: the gap also
  holds waiting (arriving before a window opens, going home early) and may hold the
  break. The drive is timed by the day's travel rule, starts on leaving and runs through
  the gap's time outside breaks, never past the next arrival.
- Open jobs of the day that the plan does not know (added since it was made) are listed
  as unassigned with that reason, so the board never hides a job the day holds.
- A job the plan names but the database no longer has (a proposal outlived a re-import of
  its day) is left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from dispatch.days import PLANNABLE_STATUSES, service_day
from dispatch.models import Job, Technician
from inventory import service as inventory_service
from inventory.models import StockLocation
from optimizer import GeodesicTravel, Location

#: Technicians' colours: twelve hues told apart on a map and on a white board.
PALETTE = (
    "#1f5fa8",  # blue
    "#d1344b",  # red
    "#2e8b3c",  # green
    "#ef8a17",  # orange
    "#7b4fa0",  # purple
    "#8c5a3c",  # brown
    "#d35fb7",  # pink
    "#12a0a0",  # teal
    "#a39b14",  # olive
    "#4d4d4d",  # dark grey
    "#29307a",  # indigo
    "#c9a100",  # gold
)

#: Why an open job of the day is in no route of a plan that does not list it.
NOT_IN_PLAN = "not in this plan: added to the day after the plan was made"


@dataclass(frozen=True, slots=True)
class _Day:
    """What a plan's jobs, technicians and warehouses are, read once per answer."""

    zone: ZoneInfo
    end: datetime  # the next local midnight: an SLA due before it is due within the day
    travel: GeodesicTravel
    jobs: dict[str, Job]
    technicians: dict[str, Technician]
    colours: dict[str, str]
    warehouses: dict[str, StockLocation]


@dataclass(frozen=True, slots=True)
class _Visit:
    """A stop at a place (a job or a warehouse) whose place the database still knows."""

    stop: Mapping[str, Any]
    location: Location
    job: Job | None = None
    warehouse: StockLocation | None = None


def colours(session: Session) -> dict[str, str]:
    """Each technician's colour by code: the palette in order of code, round again after 12."""
    codes = sorted(session.scalars(select(Technician.code)))
    return {code: PALETTE[index % len(PALETTE)] for index, code in enumerate(codes)}


def day_map(session: Session, day: date, document: Mapping[str, Any]) -> dict[str, Any]:
    """The plan as a GeoJSON FeatureCollection (coordinates ``[lon, lat]``).

    One ``LineString`` per route with stops (home, the stops in order, the end of the
    day), one ``Point`` per job (routed or not) and one per warehouse. Every feature's
    ``kind`` property says which it is.
    """
    view = _read(session, day, document)
    features: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for route in _routes(document):
        technician = view.technicians[route["technician"]]
        visits = list(_visits(view, route))
        if not visits:
            continue
        line = [_home(technician), *(v.location for v in visits), _end(technician)]
        jobs = [v for v in visits if v.job is not None]
        features.append(
            _feature(
                {"type": "LineString", "coordinates": [_position(p) for p in line]},
                kind="route",
                technician=technician.code,
                name=technician.name,
                colour=view.colours[technician.code],
                jobs=len(jobs),
            )
        )
        for sequence, visit in enumerate(jobs, start=1):
            assert visit.job is not None  # jobs only
            points.append(
                _job_point(
                    view,
                    visit.job,
                    technician=technician.code,
                    sequence=sequence,
                    **_times(view, visit.stop),
                    reason=None,
                )
            )
    for job, reason in _left_out(view, document):
        points.append(
            _job_point(
                view,
                job,
                technician=None,
                sequence=None,
                arrival=None,
                start=None,
                end=None,
                reason=reason,
            )
        )
    for warehouse in view.warehouses.values():
        assert warehouse.latitude is not None and warehouse.longitude is not None  # a warehouse
        points.append(
            _feature(
                {"type": "Point", "coordinates": [warehouse.longitude, warehouse.latitude]},
                kind="warehouse",
                code=warehouse.code,
                name=warehouse.name,
                address=warehouse.address,
            )
        )
    return {"type": "FeatureCollection", "features": features + points}


def day_board(session: Session, day: date, document: Mapping[str, Any]) -> dict[str, Any]:
    """The plan as timelines: a row per technician (those the plan routes and those
    working the day, by code) with shift and items in time order, and the jobs left out."""
    view = _read(session, day, document)
    routes = {route["technician"]: route for route in _routes(document)}
    working = {code for code, t in view.technicians.items() if t.active and t.shift_on(day)}
    rows = []
    for code in sorted(routes.keys() | working):
        technician = view.technicians[code]
        shift = technician.shift_on(day)
        route = routes.get(code)
        rows.append(
            {
                "code": code,
                "name": technician.name,
                "colour": view.colours[code],
                "shift_start": _clock(day, shift.start_time, view.zone) if shift else None,
                "shift_end": _clock(day, shift.end_time, view.zone) if shift else None,
                "depart": _instant(route["depart"], view.zone) if route else None,
                "return": _instant(route["return"], view.zone) if route else None,
                "items": _items(view, technician, route) if route else [],
            }
        )
    return {
        "timezone": view.zone.key,
        "technicians": rows,
        "unassigned": [
            {
                "reference": job.reference,
                "title": job.title,
                "priority": job.priority.value,
                "status": job.status.value,
                "sla_due": _iso(job.sla_due, view.zone),
                "sla_risk": _sla_risk(view, job, None),
                "reason": reason,
            }
            for job, reason in _left_out(view, document)
        ],
    }


def _read(session: Session, day: date, document: Mapping[str, Any]) -> _Day:
    setup = service_day(session, day)
    assert setup is not None  # a plan is only ever built for a service day
    zone = ZoneInfo(setup.timezone)
    references = {s["id"] for r in _routes(document) for s in r["stops"] if s["type"] == "job"}
    references |= {item["id"] for item in document["unassigned"]}
    jobs = session.scalars(
        select(Job)
        .where(
            or_(
                Job.reference.in_(references),
                and_(Job.service_date == day, Job.status.in_(PLANNABLE_STATUSES)),
            )
        )
        .options(selectinload(Job.site))
        .order_by(Job.id)
    )
    technicians = session.scalars(
        select(Technician).options(
            selectinload(Technician.working_hours), selectinload(Technician.days_off)
        )
    )
    return _Day(
        zone=zone,
        end=datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
        # The one travel rule a day can be planned with (build_problem refuses others).
        travel=GeodesicTravel(setup.travel_speed_kmh, setup.travel_circuity),
        jobs={job.reference: job for job in jobs},
        technicians={t.code: t for t in technicians},
        colours=colours(session),
        warehouses={w.code: w for w in inventory_service.warehouses(session)},
    )


def _routes(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's routes in order of technician code."""
    return sorted(document["routes"], key=lambda route: route["technician"])


def _visits(view: _Day, route: Mapping[str, Any]) -> Iterator[_Visit]:
    """The route's stops at a place, in visiting order."""
    for stop in route["stops"]:
        if stop["type"] == "job" and stop["id"] in view.jobs:
            job = view.jobs[stop["id"]]
            yield _Visit(stop, Location(job.site.latitude, job.site.longitude), job=job)
        elif stop["type"] == "warehouse" and stop["id"] in view.warehouses:
            warehouse = view.warehouses[stop["id"]]
            assert warehouse.latitude is not None and warehouse.longitude is not None
            yield _Visit(
                stop, Location(warehouse.latitude, warehouse.longitude), warehouse=warehouse
            )


def _left_out(view: _Day, document: Mapping[str, Any]) -> list[tuple[Job, str]]:
    """Jobs in no route, with why: the plan's reason, or that the plan does not know them."""
    left_out = [
        (view.jobs[item["id"]], item["reason"])
        for item in document["unassigned"]
        if item["id"] in view.jobs
    ]
    known = {s["id"] for r in document["routes"] for s in r["stops"] if s["type"] == "job"}
    known |= {item["id"] for item in document["unassigned"]}
    left_out += [
        (job, NOT_IN_PLAN)
        for reference, job in view.jobs.items()
        if reference not in known and job.status in PLANNABLE_STATUSES
    ]
    return left_out


def _items(view: _Day, technician: Technician, route: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A route's jobs, warehouse calls, breaks and drives, in time order."""
    breaks = [
        (datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
        for s in route["stops"]
        if s["type"] == "break"
    ]
    items: list[dict[str, Any]] = [
        {"kind": "break", "start": _iso(start, view.zone), "end": _iso(end, view.zone)}
        for start, end in breaks
    ]
    visits = list(_visits(view, route))
    # Every leg's drive at once: the travel rule's cost is per call, not per leg.
    drives = view.travel.legs([_home(technician), *(v.location for v in visits), _end(technician)])
    left = datetime.fromisoformat(route["depart"])
    for visit, seconds in zip(visits, drives, strict=False):
        arrival = datetime.fromisoformat(visit.stop["arrival"])
        items += _drive(view, int(seconds), left, arrival, breaks)
        items.append(_stop_item(view, technician, visit))
        left = datetime.fromisoformat(visit.stop["end"])
    items += _drive(view, int(drives[-1]), left, datetime.fromisoformat(route["return"]), breaks)
    return sorted(items, key=lambda item: datetime.fromisoformat(item["start"]))


def _stop_item(view: _Day, technician: Technician, visit: _Visit) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "job" if visit.job else "warehouse",
        **_times(view, visit.stop),
    }
    if visit.job is not None:
        job = visit.job
        item.update(
            reference=job.reference,
            title=job.title,
            status=job.status.value,
            priority=job.priority.value,
            sla_due=_iso(job.sla_due, view.zone),
            sla_risk=_sla_risk(view, job, visit.stop["end"]),
            pinned=job.pinned_technician_id == technician.id,
        )
    else:
        assert visit.warehouse is not None  # a place is a job's or a warehouse's
        item.update(
            warehouse=visit.warehouse.code,
            name=visit.warehouse.name,
            pickup=[
                {"sku": sku, "quantity": quantity}
                for sku, quantity in visit.stop.get("pickup", {}).items()
            ],
        )
    return item


def _drive(
    view: _Day,
    seconds: int,
    left: datetime,
    arrival: datetime,
    breaks: list[tuple[datetime, datetime]],
) -> list[dict[str, Any]]:
    """The travel items of one leg, a drive of ``seconds``: from ``left`` on, around
    breaks, until ``arrival`` at the latest; none when the two places are one."""
    remaining = timedelta(seconds=seconds)
    items = []
    start = left
    for pause_start, pause_end in sorted(breaks) + [(arrival, arrival)]:
        if remaining <= timedelta(0) or start >= arrival:
            break
        if pause_end <= start:
            continue
        end = min(start + remaining, pause_start, arrival)
        if end > start:
            items.append(
                {"kind": "travel", "start": _iso(start, view.zone), "end": _iso(end, view.zone)}
            )
            remaining -= end - start
        start = max(start, pause_end)
    return items


def _job_point(view: _Day, job: Job, **properties: Any) -> dict[str, Any]:
    technician = properties["technician"]
    return _feature(
        {"type": "Point", "coordinates": [job.site.longitude, job.site.latitude]},
        kind="job",
        reference=job.reference,
        title=job.title,
        status=job.status.value,
        priority=job.priority.value,
        colour=view.colours.get(technician) if technician else None,
        sla_due=_iso(job.sla_due, view.zone),
        sla_risk=_sla_risk(view, job, properties["end"]),
        **properties,
    )


def _sla_risk(view: _Day, job: Job, planned_end: str | None) -> bool:
    """Planned to finish after its SLA due time; or not planned, and due within the day."""
    if job.sla_due is None:
        return False
    if planned_end is None:
        return job.sla_due < view.end
    return datetime.fromisoformat(planned_end) > job.sla_due


def _times(view: _Day, stop: Mapping[str, Any]) -> dict[str, str]:
    return {key: _instant(stop[key], view.zone) for key in ("arrival", "start", "end")}


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _home(technician: Technician) -> Location:
    return Location(technician.home_latitude, technician.home_longitude)


def _end(technician: Technician) -> Location:
    if technician.end_latitude is None or technician.end_longitude is None:
        return _home(technician)
    return Location(technician.end_latitude, technician.end_longitude)


def _position(location: Location) -> list[float]:
    return [location.lon, location.lat]


def _clock(day: date, clock: time, zone: ZoneInfo) -> str:
    return datetime.combine(day, clock, tzinfo=zone).isoformat()


def _instant(text: str, zone: ZoneInfo) -> str:
    """A plan's instant, written with the day's offset whatever offset it was stored with."""
    return datetime.fromisoformat(text).astimezone(zone).isoformat()


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None

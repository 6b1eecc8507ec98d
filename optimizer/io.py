"""Reading problems (``fieldops-scenario/1``, Solomon) and writing ``fieldops-plan/1``.

Clock times ``"HH:MM"`` of a scenario become seconds since local midnight of its
date; instants (``sla_due``) are read in the scenario's time zone. Plans turn the
ticks back into ISO 8601 instants with the local offset.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optimizer.problem import (
    Break,
    InvalidProblem,
    Job,
    Location,
    Priority,
    Problem,
    Technician,
    TimeWindow,
    Warehouse,
)
from optimizer.solution import Solution, StopKind
from optimizer.travel import EuclideanTravel, GeodesicTravel

SCENARIO_FORMAT = "fieldops-scenario/1"
PLAN_FORMAT = "fieldops-plan/1"
SOLOMON_TICKS_PER_UNIT = 1000

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def read_problem(path: str | Path) -> Problem:
    """A scenario (JSON) or a Solomon instance (text), told apart by content.

    Raises
    ------
    InvalidProblem
        The file is neither, or breaks a rule of its format.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidProblem([f"{path.name}: not a text file"]) from None
    if text.lstrip()[:1] in ("{", "["):
        import json

        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidProblem([f"{path.name}: not JSON ({exc})"]) from None
        return scenario_problem(document)
    return solomon_problem(path)


def scenario_problem(document: Any) -> Problem:
    """Build the problem of a ``fieldops-scenario/1`` document.

    Raises
    ------
    InvalidProblem
        Listing every malformed field, each named as ``jobs[3] (J-0004).duration_min``.
    """
    reader = _ScenarioReader(document)
    problem = reader.problem()
    if reader.problems:
        raise InvalidProblem(reader.problems)
    assert problem is not None
    return problem


def solomon_problem(path: str | Path) -> Problem:
    """A Solomon VRPTW instance: depot node 0, identical vehicles, all jobs required.

    Coordinates are planar (``EuclideanTravel``); every job gets the emergency
    penalty so that a plan leaves nothing out when it can serve everything.
    """
    import vrplib

    try:
        data = vrplib.read_instance(str(path), instance_format="solomon")
    except Exception as exc:  # vrplib raises bare RuntimeError/ValueError/IndexError on bad text
        raise InvalidProblem(
            [
                f"{Path(path).name}: neither a fieldops-scenario/1 document nor a Solomon instance"
                f" ({exc.__class__.__name__}: {exc})"
            ]
        ) from None
    scale = SOLOMON_TICKS_PER_UNIT
    coords = data["node_coord"]
    windows = data["time_window"]
    depot = Location(float(coords[0][0]), float(coords[0][1]))
    horizon = TimeWindow(int(windows[0][0] * scale), int(windows[0][1] * scale))
    technicians = tuple(
        Technician(
            id=str(v + 1),
            start=depot,
            end=depot,
            shift=horizon,
            capacity=int(data["capacity"]),
        )
        for v in range(int(data["vehicles"]))
    )
    jobs = tuple(
        Job(
            id=str(n),
            location=Location(float(coords[n][0]), float(coords[n][1])),
            service=int(round(data["service_time"][n] * scale)),
            priority=Priority.EMERGENCY,
            window=TimeWindow(int(windows[n][0] * scale), int(windows[n][1] * scale)),
            demand=int(data["demand"][n]),
        )
        for n in range(1, len(coords))
    )
    return Problem(
        name=str(data["name"]),
        travel=EuclideanTravel(scale),
        technicians=technicians,
        jobs=jobs,
        ticks_per_minute=scale,
    )


def plan_document(problem: Problem, solution: Solution) -> dict[str, Any]:
    """The ``fieldops-plan/1`` document of a solution (numbers for Solomon times)."""
    to_time = _time_writer(problem)
    routes = []
    for route in solution.routes:
        stops = []
        for stop in route.stops:
            entry: dict[str, Any] = {"type": stop.kind.value}
            if stop.kind != StopKind.BREAK:
                entry["id"] = stop.id
            entry |= {
                "arrival": to_time(stop.arrival),
                "start": to_time(stop.start),
                "end": to_time(stop.end),
            }
            if stop.kind == StopKind.WAREHOUSE:
                entry["pickup"] = dict(stop.pickup)
            stops.append(entry)
        routes.append(
            {
                "technician": route.technician,
                "depart": to_time(route.depart),
                "return": to_time(route.return_),
                "stops": stops,
            }
        )
    return {
        "format": PLAN_FORMAT,
        "scenario": problem.name,
        "routes": routes,
        "unassigned": [
            {"id": u.job, "code": u.code.value, "reason": u.reason} for u in solution.unassigned
        ],
    }


def _time_writer(problem: Problem) -> Any:
    if problem.date is None or problem.timezone is None:
        return lambda ticks: ticks / problem.ticks_per_minute
    midnight = datetime.combine(date.fromisoformat(problem.date), datetime.min.time())
    zone = ZoneInfo(problem.timezone)

    def instant(ticks: int) -> str:
        # Wall-clock arithmetic, the same reading as the scenario's "HH:MM".
        local = midnight + timedelta(seconds=ticks)
        return local.replace(tzinfo=zone).isoformat()

    return instant


class _ScenarioReader:
    """Turns a scenario document into a Problem, collecting every problem on the way."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def problem(self) -> Problem | None:
        doc = self.document
        if not isinstance(doc, dict):
            self.fail("document", "must be a JSON object")
            return None
        if doc.get("format") != SCENARIO_FORMAT:
            self.fail("format", f"must be {SCENARIO_FORMAT!r}, got {doc.get('format')!r}")
        self.day = self._date(doc.get("date"))
        self.zone = self._zone(doc.get("timezone"))
        travel = self._travel(doc.get("travel"))
        skus = {p.get("sku") for p in self._list(doc, "parts") if isinstance(p, dict)}
        warehouses = [
            self._warehouse(i, w, skus) for i, w in enumerate(self._list(doc, "warehouses"))
        ]
        technicians = [
            self._technician(i, t, skus) for i, t in enumerate(self._list(doc, "technicians"))
        ]
        known = {t.id for t in technicians if t is not None}
        jobs = [self._job(i, j, skus, known) for i, j in enumerate(self._list(doc, "jobs"))]
        if self.problems or travel is None:
            return None
        try:
            return Problem(
                name=str(doc.get("name", "")),
                travel=travel,
                technicians=tuple(t for t in technicians if t is not None),
                jobs=tuple(j for j in jobs if j is not None),
                warehouses=tuple(w for w in warehouses if w is not None),
                date=doc["date"],
                timezone=doc["timezone"],
            )
        except InvalidProblem as exc:
            self.problems += exc.problems
            return None

    # --- pieces ----------------------------------------------------------------------

    def _list(self, doc: dict[str, Any], key: str) -> list[Any]:
        value = doc.get(key)
        if not isinstance(value, list):
            self.fail(key, "must be a list")
            return []
        return value

    def _date(self, value: Any) -> date | None:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail("date", f"must be a YYYY-MM-DD date, got {value!r}")
            return None

    def _zone(self, value: Any) -> ZoneInfo | None:
        try:
            return ZoneInfo(value)
        except (TypeError, ValueError, ZoneInfoNotFoundError):
            self.fail("timezone", f"unknown time zone {value!r}")
            return None

    def _travel(self, value: Any) -> GeodesicTravel | None:
        if not isinstance(value, dict) or value.get("model") != "geodesic":
            self.fail("travel", "must be {'model': 'geodesic', 'speed_kmh': ..., 'circuity': ...}")
            return None
        speed, circuity = value.get("speed_kmh"), value.get("circuity")
        if not _number(speed) or speed <= 0:
            self.fail("travel.speed_kmh", f"must be a positive number, got {speed!r}")
            return None
        if not _number(circuity) or circuity < 1:
            self.fail("travel.circuity", f"must be a number >= 1, got {circuity!r}")
            return None
        return GeodesicTravel(float(speed), float(circuity))

    def _clock(self, where: str, value: Any) -> int | None:
        match = _CLOCK.match(value) if isinstance(value, str) else None
        if match is None:
            self.fail(where, f"{value!r} is not a HH:MM time")
            return None
        return int(match.group(1)) * 3600 + int(match.group(2)) * 60

    def _window(self, where: str, value: Any) -> TimeWindow | None:
        if not isinstance(value, list) or len(value) != 2:
            self.fail(where, f"must be [start, end], got {value!r}")
            return None
        start, end = self._clock(f"{where}[0]", value[0]), self._clock(f"{where}[1]", value[1])
        if start is None or end is None:
            return None
        if start >= end:
            self.fail(where, f"ends ({value[1]}) before it starts ({value[0]})")
            return None
        return TimeWindow(start, end)

    def _location(self, where: str, value: Any) -> Location | None:
        if not isinstance(value, dict):
            self.fail(where, "must be {'lat': .., 'lon': ..}")
            return None
        lat, lon = value.get("lat"), value.get("lon")
        if not _number(lat) or not -90 <= lat <= 90:
            self.fail(f"{where}.lat", f"must be a latitude, got {lat!r}")
            return None
        if not _number(lon) or not -180 <= lon <= 180:
            self.fail(f"{where}.lon", f"must be a longitude, got {lon!r}")
            return None
        return Location(float(lat), float(lon))

    def _stock(self, where: str, value: Any, skus: set[Any], minimum: int) -> dict[str, int]:
        if not isinstance(value, dict):
            self.fail(where, "must be an object of SKU -> quantity")
            return {}
        stock = {}
        for sku, quantity in value.items():
            if sku not in skus:
                self.fail(where, f"unknown part {sku!r}")
            elif not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < minimum:
                self.fail(f"{where}.{sku}", f"must be an integer >= {minimum}, got {quantity!r}")
            else:
                stock[sku] = quantity
        return stock

    def _id(self, where: str, item: Any) -> str | None:
        if not isinstance(item, dict):
            self.fail(where, "must be an object")
            return None
        value = item.get("id")
        if not isinstance(value, str) or not value:
            self.fail(f"{where}.id", f"must be a non-empty string, got {value!r}")
            return None
        return value

    def _warehouse(self, index: int, item: Any, skus: set[Any]) -> Warehouse | None:
        ident = self._id(f"warehouses[{index}]", item)
        if ident is None:
            return None
        where = f"warehouses[{index}] ({ident})"
        location = self._location(f"{where}.location", item.get("location"))
        hours = self._window(f"{where}.hours", item.get("hours"))
        minutes = item.get("pickup_minutes")
        if not isinstance(minutes, int) or minutes < 0:
            self.fail(f"{where}.pickup_minutes", f"must be an integer >= 0, got {minutes!r}")
            return None
        stock = self._stock(f"{where}.stock", item.get("stock", {}), skus, 0)
        if location is None or hours is None:
            return None
        return Warehouse(ident, location, hours, minutes * 60, stock)

    def _technician(self, index: int, item: Any, skus: set[Any]) -> Technician | None:
        ident = self._id(f"technicians[{index}]", item)
        if ident is None:
            return None
        where = f"technicians[{index}] ({ident})"
        start = self._location(f"{where}.start", item.get("start"))
        end = self._location(f"{where}.end", item.get("end"))
        shift = self._window(f"{where}.shift", item.get("shift"))
        skills = self._skills(f"{where}.skills", item.get("skills", []))
        van = self._stock(f"{where}.van_stock", item.get("van_stock", {}), skus, 0)
        rule = None
        if item.get("break") is not None:
            rule = self._break(f"{where}.break", item["break"])
        if start is None or end is None or shift is None or skills is None:
            return None
        return Technician(ident, start, end, shift, skills, rule, van)

    def _break(self, where: str, value: Any) -> Break | None:
        if not isinstance(value, dict):
            self.fail(where, "must be {'earliest', 'latest', 'minutes'}")
            return None
        earliest = self._clock(f"{where}.earliest", value.get("earliest"))
        latest = self._clock(f"{where}.latest", value.get("latest"))
        minutes = value.get("minutes")
        if not isinstance(minutes, int) or minutes <= 0:
            self.fail(f"{where}.minutes", f"must be a positive integer, got {minutes!r}")
            return None
        if earliest is None or latest is None:
            return None
        if earliest > latest:
            self.fail(where, "latest is before earliest")
            return None
        return Break(TimeWindow(earliest, latest), minutes * 60)

    def _skills(self, where: str, value: Any) -> frozenset[str] | None:
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            self.fail(where, f"must be a list of strings, got {value!r}")
            return None
        return frozenset(value)

    def _job(self, index: int, item: Any, skus: set[Any], technicians: set[str]) -> Job | None:
        ident = self._id(f"jobs[{index}]", item)
        if ident is None:
            return None
        where = f"jobs[{index}] ({ident})"
        location = self._location(f"{where}.location", item.get("location"))
        duration = item.get("duration_min")
        if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
            self.fail(f"{where}.duration_min", f"must be a positive integer, got {duration!r}")
        skills = self._skills(f"{where}.skills", item.get("skills", []))
        parts = self._stock(f"{where}.parts", item.get("parts", {}), skus, 1)
        try:
            priority = Priority(item.get("priority"))
        except ValueError:
            self.fail(
                f"{where}.priority",
                f"must be one of {', '.join(Priority)}, got {item.get('priority')!r}",
            )
            priority = None
        window = None
        if item.get("window") is not None:
            window = self._window(f"{where}.window", item["window"])
        due = self._instant(f"{where}.sla_due", item.get("sla_due"))
        pinned = item.get("pinned_to")
        if pinned is not None and pinned not in technicians:
            self.fail(f"{where}.pinned_to", f"unknown technician {pinned!r}")
        if self.problems_for(where) or location is None or skills is None or priority is None:
            return None
        return Job(
            id=ident,
            location=location,
            service=duration * 60,
            priority=priority,
            skills=skills,
            window=window,
            sla_due=due,
            pinned_to=pinned,
            parts=parts,
        )

    def problems_for(self, where: str) -> bool:
        return any(p.startswith(where) for p in self.problems)

    def _instant(self, where: str, value: Any) -> int | None:
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(where, f"must be an ISO 8601 instant with offset, got {value!r}")
            return None
        if moment.tzinfo is None:
            self.fail(where, f"needs a UTC offset, got {value!r}")
            return None
        if self.day is None or self.zone is None:
            return None
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        return int((local - datetime.combine(self.day, datetime.min.time())).total_seconds())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

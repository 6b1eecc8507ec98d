"""The checks and conversions behind ``optimizer.io.scenario_problem``.

Every rule of ``docs/FORMAT.md`` that a single document can break is checked here,
each field once, and every problem is collected with the entity and field it concerns,
so that one round of corrections is enough.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optimizer._values import (
    ABSENT,
    MAX_WHOLE,
    BadValue,
    is_finite_number,
    shorten,
    shown,
    wall_clock,
)
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
from optimizer.travel import GeodesicTravel

SCENARIO_FORMAT = "fieldops-scenario/1"

#: Plausible bounds of the travel rule; far beyond them travel times overflow the solver.
SPEED_KMH = (1.0, 1000.0)
CIRCUITY = (1.0, 10.0)

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# The keys each kind of object must have, and those it may have (absent or null); no others.
_TOP = frozenset(
    ("format", "name", "date", "timezone", "travel", "parts", "warehouses", "technicians", "jobs")
)
_TRAVEL = frozenset(("model", "speed_kmh", "circuity"))
_PART = frozenset(("sku", "name"))
_WAREHOUSE = frozenset(("id", "name", "location", "hours", "pickup_minutes", "stock"))
_TECHNICIAN = frozenset(("id", "name", "skills", "start", "end", "shift", "van_stock"))
_TECHNICIAN_OPTIONAL = frozenset(("break",))
_BREAK = frozenset(("earliest", "latest", "minutes"))
_JOB = frozenset(("id", "location", "duration_min", "skills", "parts", "priority"))
_JOB_OPTIONAL = frozenset(("title", "window", "sla_due", "pinned_to"))
_LOCATION = frozenset(("lat", "lon"))


class ScenarioReader:
    """Turns a scenario document into a Problem, collecting every problem on the way.

    Each field is checked once, by the method for its kind of value; a required field
    that is missing is reported once, as missing, and not again by its check.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._missing: set[str] = set()
        self.day: date | None = None
        self.zone: ZoneInfo | None = None

    def fail(self, where: str, message: str) -> None:
        if where not in self._missing:
            self.problems.append(f"{where}: {message}")

    def read(self, document: Any) -> Problem | None:
        """The document's Problem, or None when anything is wrong (see ``problems``)."""
        if not isinstance(document, dict):
            self.fail("scenario", f"must be a JSON object, got {type(document).__name__}")
            return None
        self._keys("", document, _TOP)
        if "format" in document and document["format"] != SCENARIO_FORMAT:
            self.fail("format", f"must be {SCENARIO_FORMAT!r}, got {shown(document['format'])}")
        name = self._text("name", document.get("name"))
        self.zone = self._zone(document.get("timezone"))
        self.day = self._date(document.get("date"))
        travel = self._travel(document.get("travel"))
        skus = {
            sku
            for _, sku, _ in self._entities(
                document, "parts", "sku", _PART, frozenset(), self._part
            )
        }
        warehouses = self._entities(
            document,
            "warehouses",
            "id",
            _WAREHOUSE,
            frozenset(),
            lambda where, item: self._warehouse(where, item, skus),
        )
        technicians = self._entities(
            document,
            "technicians",
            "id",
            _TECHNICIAN,
            _TECHNICIAN_OPTIONAL,
            lambda where, item: self._technician(where, item, skus),
        )
        technician_ids = {ident for _, ident, _ in technicians}
        jobs = self._entities(
            document,
            "jobs",
            "id",
            _JOB,
            _JOB_OPTIONAL,
            lambda where, item: self._job(where, item, skus, technician_ids),
        )
        if self.problems or name is None or travel is None:
            return None
        try:
            return Problem(
                name=name,
                travel=travel,
                technicians=tuple(t for _, _, t in technicians if isinstance(t, Technician)),
                jobs=tuple(j for _, _, j in jobs if isinstance(j, Job)),
                warehouses=tuple(w for _, _, w in warehouses if isinstance(w, Warehouse)),
                date=document["date"],
                timezone=document["timezone"],
            )
        except InvalidProblem as exc:  # a rule across entities the fields could not show
            self.problems += exc.problems
            return None

    # --- structure -------------------------------------------------------------------------

    def _keys(
        self,
        where: str,
        item: dict[str, Any],
        required: frozenset[str],
        optional: frozenset[str] = frozenset(),
    ) -> None:
        """Report missing required keys (once) and keys the format does not have."""
        prefix = f"{where}." if where else ""
        for key in sorted(required - item.keys()):
            self.fail(f"{prefix}{key}", "is missing")
            self._missing.add(f"{prefix}{key}")
        for key in sorted(item.keys() - required - optional):
            allowed = ", ".join(sorted(required | optional))
            self.fail(f"{prefix}{shorten(key, 40)}", f"is not a field here (allowed: {allowed})")

    def _entities(
        self,
        document: dict[str, Any],
        section: str,
        key: str,
        required: frozenset[str],
        optional: frozenset[str],
        build: Callable[[str, dict[str, Any]], object],
    ) -> list[tuple[str, str, object]]:
        """Each object of a list section as (label, id, what ``build`` made of it).

        Ids are checked here, duplicates included; ``build`` gets objects with a valid id
        and a label such as ``jobs[3] (J-0004)``.
        """
        items = document.get(section, ABSENT)
        if not isinstance(items, list):
            self.fail(section, f"must be a list, got {shown(items)}")
            return []
        built: list[tuple[str, str, object]] = []
        seen: dict[str, str] = {}
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            if not isinstance(item, dict):
                self.fail(where, f"must be an object, got {shown(item)}")
                continue
            ident = self._text(f"{where}.{key}", item.get(key, ABSENT))
            if ident is None:
                continue
            where = entity_label(section, index, ident)
            if ident in seen:
                self.fail(f"{where}.{key}", f"used twice (also {seen[ident]})")
                continue
            seen[ident] = where
            self._keys(where, item, required, optional)
            built.append((where, ident, build(where, item)))
        return built

    # --- top-level fields ------------------------------------------------------------------

    def _zone(self, value: Any) -> ZoneInfo | None:
        if self._text("timezone", value) is None:
            return None
        try:
            return ZoneInfo(value)
        # ValueError: not a well-formed key; OSError: a folder of zones, a name too long.
        except (ValueError, OSError, ZoneInfoNotFoundError):
            self.fail("timezone", f"unknown time zone {shown(value)}")
            return None

    def _date(self, value: Any) -> date | None:
        """A ``YYYY-MM-DD`` date whose whole day, in the scenario's zone, has a UTC time."""
        try:
            # fromisoformat alone also takes "20261124" and week dates.
            day = date.fromisoformat(value) if _DATE.fullmatch(value) else None
        except (TypeError, ValueError):
            day = None
        if day is None:
            self.fail("date", f"must be a YYYY-MM-DD date, got {shown(value)}")
            return None
        zone = self.zone or UTC
        try:
            for clock in (time.min, time.max):
                datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)
        except OverflowError:
            self.fail("date", f"{value} is out of range once converted to UTC")
            return None
        return day

    def _travel(self, value: Any) -> GeodesicTravel | None:
        if not isinstance(value, dict):
            self.fail("travel", f"must be an object, got {shown(value)}")
            return None
        self._keys("travel", value, _TRAVEL)
        if "model" in value and value["model"] != "geodesic":
            self.fail("travel.model", f"must be 'geodesic', got {shown(value['model'])}")
        speed = self._bounded("travel.speed_kmh", value.get("speed_kmh"), SPEED_KMH)
        circuity = self._bounded("travel.circuity", value.get("circuity"), CIRCUITY)
        if speed is None or circuity is None:
            return None
        return GeodesicTravel(speed, circuity)

    # --- entities --------------------------------------------------------------------------

    def _part(self, where: str, item: dict[str, Any]) -> None:
        self._text(f"{where}.name", item.get("name"))

    def _warehouse(self, where: str, item: dict[str, Any], skus: set[str]) -> Warehouse | None:
        self._text(f"{where}.name", item.get("name"))
        location = self._location(f"{where}.location", item.get("location"))
        hours = self._span(f"{where}.hours", item.get("hours"))
        minutes = self._whole(f"{where}.pickup_minutes", item.get("pickup_minutes"), 0)
        stock = self._stock(f"{where}.stock", item.get("stock"), skus, 0)
        if location is None or hours is None or minutes is None or stock is None:
            return None
        return Warehouse(item["id"], location, hours, minutes * 60, stock)

    def _technician(self, where: str, item: dict[str, Any], skus: set[str]) -> Technician | None:
        self._text(f"{where}.name", item.get("name"))
        skills = self._skills(f"{where}.skills", item.get("skills"))
        start = self._location(f"{where}.start", item.get("start"))
        end = self._location(f"{where}.end", item.get("end"))
        shift = self._span(f"{where}.shift", item.get("shift"))
        van = self._stock(f"{where}.van_stock", item.get("van_stock"), skus, 0)
        rule = item.get("break")
        break_rule = None if rule is None else self._break(f"{where}.break", rule)
        if (
            skills is None
            or start is None
            or end is None
            or shift is None
            or van is None
            or (rule is not None and break_rule is None)
        ):
            return None
        return Technician(item["id"], start, end, shift, skills, break_rule, van)

    def _break(self, where: str, value: Any) -> Break | None:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object or null, got {shown(value)}")
            return None
        self._keys(where, value, _BREAK)
        earliest = self._clock(f"{where}.earliest", value.get("earliest"))
        latest = self._clock(f"{where}.latest", value.get("latest"))
        minutes = self._whole(f"{where}.minutes", value.get("minutes"), 1)
        if earliest is None or latest is None or minutes is None:
            return None
        if earliest > latest:
            self.fail(where, f"earliest {value['earliest']} is after latest {value['latest']}")
            return None
        return Break(TimeWindow(earliest, latest), minutes * 60)

    def _job(
        self, where: str, item: dict[str, Any], skus: set[str], technicians: set[str]
    ) -> Job | None:
        if "title" in item:
            self._text(f"{where}.title", item["title"])
        location = self._location(f"{where}.location", item.get("location"))
        duration = self._whole(f"{where}.duration_min", item.get("duration_min"), 1)
        skills = self._skills(f"{where}.skills", item.get("skills"))
        parts = self._stock(f"{where}.parts", item.get("parts"), skus, 1)
        priority = self._priority(f"{where}.priority", item.get("priority"))
        window = item.get("window")
        span = None if window is None else self._span(f"{where}.window", window)
        due = self._instant(f"{where}.sla_due", item.get("sla_due"))
        pinned = item.get("pinned_to")
        if pinned is not None and (not isinstance(pinned, str) or pinned not in technicians):
            self.fail(f"{where}.pinned_to", f"unknown technician {shown(pinned)}")
        if (
            location is None
            or duration is None
            or skills is None
            or parts is None
            or priority is None
            or (window is not None and span is None)
        ):
            return None
        return Job(
            id=item["id"],
            location=location,
            service=duration * 60,
            priority=priority,
            skills=skills,
            window=span,
            sla_due=due,
            pinned_to=pinned,
            parts=parts,
        )

    # --- values ----------------------------------------------------------------------------

    def _text(self, where: str, value: Any) -> str | None:
        """A non-blank string without NUL characters (which no database column takes)."""
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty text, got {shown(value)}")
            return None
        if "\x00" in value:
            self.fail(where, "contains a NUL character")
            return None
        return value

    def _whole(self, where: str, value: Any, minimum: int) -> int | None:
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not (minimum <= value <= MAX_WHOLE)
        ):
            self.fail(
                where, f"must be a whole number from {minimum} to {MAX_WHOLE}, got {shown(value)}"
            )
            return None
        return value

    def _bounded(self, where: str, value: Any, bounds: tuple[float, float]) -> float | None:
        low, high = bounds
        if not is_finite_number(value) or not low <= value <= high:
            self.fail(where, f"must be a number from {low:g} to {high:g}, got {shown(value)}")
            return None
        return float(value)

    def _clock(self, where: str, value: Any) -> int | None:
        match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.fail(where, f"{shown(value)} is not a HH:MM time")
            return None
        return int(match.group(1)) * 3600 + int(match.group(2)) * 60

    def _span(self, where: str, value: Any) -> TimeWindow | None:
        """A ``[start, end]`` pair of clock times, start before end."""
        if not isinstance(value, list) or len(value) != 2:
            self.fail(where, f"must be [start, end] as HH:MM times, got {shown(value)}")
            return None
        start, end = self._clock(f"{where}[0]", value[0]), self._clock(f"{where}[1]", value[1])
        if start is None or end is None:
            return None
        if start >= end:
            self.fail(where, f"start {value[0]} is not before end {value[1]}")
            return None
        return TimeWindow(start, end)

    def _location(self, where: str, value: Any) -> Location | None:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object with lat and lon, got {shown(value)}")
            return None
        self._keys(where, value, _LOCATION)
        lat = self._bounded(f"{where}.lat", value.get("lat"), (-90.0, 90.0))
        lon = self._bounded(f"{where}.lon", value.get("lon"), (-180.0, 180.0))
        return None if lat is None or lon is None else Location(lat, lon)

    def _skills(self, where: str, value: Any) -> frozenset[str] | None:
        if not isinstance(value, list):
            self.fail(where, f"must be a list of skill names, got {shown(value)}")
            return None
        names = [self._text(f"{where}[{i}]", name) for i, name in enumerate(value)]
        if None in names:
            return None
        return frozenset(name for name in names if name is not None)

    def _stock(
        self, where: str, value: Any, skus: set[str], minimum: int
    ) -> dict[str, int] | None:
        """A mapping of SKU to quantity, every SKU one of the scenario's parts."""
        if not isinstance(value, dict):
            self.fail(where, f"must be an object of SKU to quantity, got {shown(value)}")
            return None
        stock: dict[str, int] = {}
        for sku, quantity in value.items():
            if "\x00" in sku:
                self.fail(where, f"part {shown(sku)} contains a NUL character")
            elif sku not in skus:
                self.fail(where, f"unknown part {shown(sku)}")
            elif (
                whole := self._whole(f"{where}.{shorten(sku, 40)}", quantity, minimum)
            ) is not None:
                stock[sku] = whole
        return stock if len(stock) == len(value) else None

    def _priority(self, where: str, value: Any) -> Priority | None:
        try:
            return Priority(value)
        except (TypeError, ValueError):
            self.fail(where, f"must be one of {', '.join(Priority)}, got {shown(value)}")
            return None

    def _instant(self, where: str, value: Any) -> int | None:
        """Seconds from the day's local midnight to an ISO 8601 instant with offset."""
        if value is None:
            return None
        try:
            local = wall_clock(value, self.zone or UTC)
        except BadValue as problem:
            self.fail(where, str(problem))
            return None
        if self.day is None:
            return None
        return int((local - datetime.combine(self.day, time.min)).total_seconds())


def entity_label(section: str, index: int, ident: str) -> str:
    """How messages name an entity with a valid id: ``jobs[3] (J-0004)``."""
    return f"{section}[{index}] ({shorten(ident, 40)})"

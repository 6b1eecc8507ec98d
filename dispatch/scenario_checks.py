"""Checks of a ``fieldops-scenario/1`` document before anything is imported.

Every problem is collected, each naming the entity and field, so that a user fixes
a file in one round instead of one error at a time.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import Priority
from dispatch.models import Job

FORMAT = "fieldops-scenario/1"

# Column sizes the identifiers must fit: a job id is also stored as "SR-<id>" in a
# 32-character column, a technician id as "VAN-<id>" in a 40-character one.
_MAX_JOB_ID = 29
_MAX_TECHNICIAN_ID = 36
_MAX_CODE = 40
_MAX_NAME = 200
_MAX_DAY_NAME = 100

_CLOCK = re.compile(r"[0-9]{2}:[0-9]{2}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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


def find_problems(session: Session, data: Any) -> list[str]:
    """Every problem of the document, section by section; empty when it can be imported."""
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

"""The planning problem: one immutable day to plan, validated at construction.

Times are integer *ticks* since the start of the planning day (local midnight for
a service day). A field-service day counts in seconds (``ticks_per_minute=60``);
a Solomon instance in thousandths of its distance unit. Costs follow the score
of FORMAT.md: travel minutes, plus a penalty per unassigned job by priority, plus
a weight per minute finished after the SLA due time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from optimizer.travel import TravelModel


class InvalidProblem(ValueError):
    """The problem breaks a rule of the format; ``problems`` names each (entity, field)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class Priority(StrEnum):
    EMERGENCY = "emergency"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


#: Score of leaving a job unassigned, in score units (minutes of travel), FORMAT.md.
DEFAULT_PENALTIES: Mapping[Priority, int] = MappingProxyType(
    {Priority.EMERGENCY: 100_000, Priority.HIGH: 10_000, Priority.NORMAL: 1_000, Priority.LOW: 200}
)
#: Score per minute a job finishes after its SLA due time, FORMAT.md.
DEFAULT_LATENESS_WEIGHT = 2


def _frozen(mapping: Mapping[str, int] | None) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


def reduce_by_fields(value: Any) -> tuple[type[Any], tuple[Any, ...]]:
    """Pickle a value object through its constructor, read-only mappings as plain dicts.

    A ``mappingproxy`` cannot be pickled, and search processes receive the problem
    pickled; the constructor wraps (and validates) again on the other side.
    """
    values = (getattr(value, f.name) for f in fields(value))
    return type(value), tuple(dict(v) if isinstance(v, MappingProxyType) else v for v in values)


@dataclass(frozen=True, slots=True)
class Location:
    """A WGS-84 point; under the Euclidean travel model, ``lat``/``lon`` are x/y."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Inclusive ``[start, end]`` in ticks."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InvalidProblem(
                [f"time window ends ({self.end}) before it starts ({self.start})"]
            )

    def __contains__(self, tick: int) -> bool:
        return self.start <= tick <= self.end


@dataclass(frozen=True, slots=True)
class Break:
    """One break of ``duration`` ticks starting inside ``window``, wherever the technician is."""

    window: TimeWindow
    duration: int


@dataclass(frozen=True, slots=True)
class Technician:
    """A vehicle of the routing problem.

    ``fixed_jobs`` are jobs already under way (en route, on site): they open the
    route in this order, whatever else changes. ``capacity`` bounds the sum of job
    ``demand`` (Solomon instances); None means unlimited.
    """

    id: str
    start: Location
    end: Location
    shift: TimeWindow
    skills: frozenset[str] = frozenset()
    break_rule: Break | None = None
    van_stock: Mapping[str, int] = field(default_factory=dict)
    capacity: int | None = None
    fixed_jobs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "van_stock", _frozen(self.van_stock))
        object.__setattr__(self, "skills", frozenset(self.skills))

    __reduce__ = reduce_by_fields


@dataclass(frozen=True, slots=True)
class Job:
    """A visit: ``service`` ticks on site, starting inside ``window`` when given."""

    id: str
    location: Location
    service: int
    priority: Priority = Priority.NORMAL
    skills: frozenset[str] = frozenset()
    window: TimeWindow | None = None
    sla_due: int | None = None
    pinned_to: str | None = None
    parts: Mapping[str, int] = field(default_factory=dict)
    demand: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", _frozen(self.parts))
        object.__setattr__(self, "skills", frozenset(self.skills))

    __reduce__ = reduce_by_fields


@dataclass(frozen=True, slots=True)
class Warehouse:
    """Where vans pick up parts: open ``hours``, ``pickup_service`` ticks per call."""

    id: str
    location: Location
    hours: TimeWindow
    pickup_service: int
    stock: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stock", _frozen(self.stock))

    __reduce__ = reduce_by_fields


@dataclass(frozen=True, slots=True)
class Problem:
    """One day to plan. Build it once; change it with ``dataclasses.replace``."""

    name: str
    travel: TravelModel
    technicians: tuple[Technician, ...]
    jobs: tuple[Job, ...]
    warehouses: tuple[Warehouse, ...] = ()
    ticks_per_minute: int = 60
    penalties: Mapping[Priority, int] = field(default_factory=lambda: DEFAULT_PENALTIES)
    lateness_weight: int = DEFAULT_LATENESS_WEIGHT
    #: Calendar date and IANA time zone of a service day (None for Solomon).
    date: str | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "technicians", tuple(self.technicians))
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "warehouses", tuple(self.warehouses))
        object.__setattr__(self, "penalties", MappingProxyType(dict(self.penalties)))
        problems = _validate(self)
        if problems:
            raise InvalidProblem(problems)

    __reduce__ = reduce_by_fields

    def technician(self, technician_id: str) -> Technician:
        return self._technicians_by_id()[technician_id]

    def job(self, job_id: str) -> Job:
        return self._jobs_by_id()[job_id]

    def warehouse(self, warehouse_id: str) -> Warehouse:
        return next(w for w in self.warehouses if w.id == warehouse_id)

    def _technicians_by_id(self) -> dict[str, Technician]:
        return {t.id: t for t in self.technicians}

    def _jobs_by_id(self) -> dict[str, Job]:
        return {j.id: j for j in self.jobs}


def _validate(problem: Problem) -> list[str]:
    """Every rule a problem must meet, checked once; messages name entity and field."""
    problems: list[str] = []
    for kind, items in (
        ("technician", problem.technicians),
        ("job", problem.jobs),
        ("warehouse", problem.warehouses),
    ):
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                problems.append(f"{kind} {item.id}: id used twice")
            seen.add(item.id)
    technicians = {t.id: t for t in problem.technicians}
    jobs = {j.id for j in problem.jobs}
    for technician in problem.technicians:
        where = f"technician {technician.id}"
        if technician.break_rule is not None and technician.break_rule.duration <= 0:
            problems.append(f"{where}: break duration must be positive")
        problems += _check_stock(where, "van_stock", technician.van_stock)
        for job_id in technician.fixed_jobs:
            if job_id not in jobs:
                problems.append(f"{where}: fixed job {job_id!r} is not in the problem")
    for job in problem.jobs:
        where = f"job {job.id}"
        if job.service < 0:
            problems.append(f"{where}: negative duration")
        if job.demand < 0:
            problems.append(f"{where}: negative demand")
        if job.pinned_to is not None and job.pinned_to not in technicians:
            problems.append(f"{where}: pinned to unknown technician {job.pinned_to!r}")
        problems += _check_stock(where, "parts", job.parts, minimum=1)
        if job.priority not in problem.penalties:
            problems.append(f"{where}: no penalty for priority {job.priority}")
    for warehouse in problem.warehouses:
        where = f"warehouse {warehouse.id}"
        if warehouse.pickup_service < 0:
            problems.append(f"{where}: negative pickup time")
        problems += _check_stock(where, "stock", warehouse.stock)
    if problem.ticks_per_minute <= 0:
        problems.append("ticks_per_minute must be positive")
    return problems


def _check_stock(where: str, name: str, stock: Mapping[str, int], minimum: int = 0) -> list[str]:
    return [
        f"{where}: {name} of {sku!r} must be an integer >= {minimum}, got {quantity!r}"
        for sku, quantity in stock.items()
        if not isinstance(quantity, int) or quantity < minimum
    ]

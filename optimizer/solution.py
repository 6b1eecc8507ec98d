"""A plan: each technician's stops in order with their times, and the jobs left out.

Times are ticks since the start of the planning day, like the problem's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from optimizer.problem import reduce_by_fields


class StopKind(StrEnum):
    JOB = "job"
    WAREHOUSE = "warehouse"
    BREAK = "break"


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop: arrive, (wait,) start, end. A break has no id; a pickup lists its parts."""

    kind: StopKind
    id: str
    arrival: int
    start: int
    end: int
    pickup: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pickup", MappingProxyType(dict(self.pickup)))

    __reduce__ = reduce_by_fields


@dataclass(frozen=True, slots=True)
class Route:
    technician: str
    depart: int
    return_: int
    stops: tuple[Stop, ...]

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stops if s.kind == StopKind.JOB)


class Reason(StrEnum):
    """Why a job is unassigned: machine-readable codes a dispatcher can act on."""

    NO_SKILLED_TECHNICIAN = "no_skilled_technician"
    PINNED_TECHNICIAN_UNAVAILABLE = "pinned_technician_unavailable"
    WINDOW_OUTSIDE_SHIFTS = "window_outside_shifts"
    PARTS_UNAVAILABLE = "parts_unavailable"
    CAPACITY = "capacity"
    NOT_ENOUGH_TIME = "not_enough_time"


@dataclass(frozen=True, slots=True)
class Unassigned:
    job: str
    code: Reason
    reason: str  # the sentence a dispatcher reads


@dataclass(frozen=True, slots=True)
class Solution:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]

    def route_of(self, technician_id: str) -> Route | None:
        return next((r for r in self.routes if r.technician == technician_id), None)

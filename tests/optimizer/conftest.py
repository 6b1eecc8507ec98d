"""Shared builders for the optimizer's tests: small hand-built days, the shipped days, plan checks.

Hand-built days are in Oslo on 2026-11-24 under FORMAT.md's travel rule, a few kilometres
apart, so that legs take minutes and a shift holds a handful of jobs. Builders take clock
times as "HH:MM" and minutes, the way a scenario file states them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from optimizer.check import CheckReport, check
from optimizer.io import read_problem
from optimizer.problem import (
    Break,
    Job,
    Location,
    Priority,
    Problem,
    Technician,
    TimeWindow,
    Warehouse,
)
from optimizer.solution import Reason, Solution, StopKind, Unassigned
from optimizer.solve import SolveParams, solve
from optimizer.travel import GeodesicTravel

DATA = Path(__file__).parents[1] / "data"
SCENARIOS = DATA / "fieldservice"
SOLOMON = DATA / "solomon"

SPEED_KMH, CIRCUITY = 32.0, 1.35
DATE, TIMEZONE = "2026-11-24", "Europe/Oslo"

# A few places in Oslo; the farthest two are under 10 km apart (about 25 minutes' drive).
DEPOT = Location(59.910, 10.750)
HOME_WEST = Location(59.930, 10.710)
HOME_EAST = Location(59.900, 10.800)
NORTH = Location(59.950, 10.780)
CENTRE = Location(59.920, 10.760)
SOUTH = Location(59.890, 10.770)
EAST = Location(59.915, 10.820)
WEST = Location(59.925, 10.690)


def at(clock: str) -> int:
    """Seconds since local midnight of a "HH:MM" clock time: the ticks of a service day."""
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def window(span: tuple[str, str] | None) -> TimeWindow | None:
    return None if span is None else TimeWindow(at(span[0]), at(span[1]))


def technician(
    ident: str,
    skills: Iterable[str] = (),
    *,
    home: Location = HOME_WEST,
    end: Location | None = None,
    shift: tuple[str, str] = ("08:00", "16:00"),
    lunch: tuple[str, str, int] | None = None,
    van: Mapping[str, int] | None = None,
    fixed: tuple[str, ...] = (),
    capacity: int | None = None,
) -> Technician:
    """A technician from ``home`` (back there unless ``end``); lunch: (earliest, latest, min)."""
    rule = None
    if lunch is not None:
        rule = Break(TimeWindow(at(lunch[0]), at(lunch[1])), lunch[2] * 60)
    shift_window = window(shift)
    assert shift_window is not None
    return Technician(
        ident,
        home,
        home if end is None else end,
        shift_window,
        frozenset(skills),
        rule,
        dict(van or {}),
        capacity=capacity,
        fixed_jobs=fixed,
    )


def job(
    ident: str,
    place: Location = CENTRE,
    minutes: int = 30,
    priority: Priority = Priority.NORMAL,
    *,
    skills: Iterable[str] = (),
    span: tuple[str, str] | None = None,
    due: str | None = None,
    pinned: str | None = None,
    parts: Mapping[str, int] | None = None,
) -> Job:
    """A job of ``minutes`` on site; ``span`` is its window, ``due`` its SLA as "HH:MM"."""
    return Job(
        ident,
        place,
        minutes * 60,
        priority,
        frozenset(skills),
        window(span),
        None if due is None else at(due),
        pinned,
        dict(parts or {}),
    )


def warehouse(
    ident: str = "WH-1",
    place: Location = DEPOT,
    *,
    hours: tuple[str, str] = ("07:00", "17:00"),
    stock: Mapping[str, int] | None = None,
    pickup_minutes: int = 10,
) -> Warehouse:
    hours_window = window(hours)
    assert hours_window is not None
    return Warehouse(ident, place, hours_window, pickup_minutes * 60, dict(stock or {}))


def day(
    technicians: Iterable[Technician],
    jobs: Iterable[Job],
    warehouses: Iterable[Warehouse] = (),
    name: str = "hand-built",
) -> Problem:
    """A service day in Oslo under FORMAT.md's geodesic travel rule."""
    return Problem(
        name,
        GeodesicTravel(SPEED_KMH, CIRCUITY),
        tuple(technicians),
        tuple(jobs),
        tuple(warehouses),
        date=DATE,
        timezone=TIMEZONE,
    )


def plan(problem: Problem, seconds: float = 0.0, **params: object) -> Solution:
    """Solve with a short time limit (0: the deterministic construction alone)."""
    return solve(problem, SolveParams(time_limit_s=seconds, **params))  # type: ignore[arg-type]


# --- looking at a plan ----------------------------------------------------------------


def served_by(solution: Solution) -> dict[str, str]:
    """Job id -> id of the technician whose route visits it."""
    return {
        stop.id: route.technician
        for route in solution.routes
        for stop in route.stops
        if stop.kind == StopKind.JOB
    }


def left_out(solution: Solution) -> dict[str, Unassigned]:
    return {item.job: item for item in solution.unassigned}


def assert_sound(problem: Problem, solution: Solution) -> CheckReport:
    """The independent checker finds nothing wrong, and each job is placed exactly once.

    Each job is either in exactly one route or unassigned, never both, and an
    unassigned job carries a ``Reason`` code and a sentence a dispatcher can read.
    """
    report = check(problem, solution)
    assert report.violations == (), [v.message for v in report.violations]
    visits = Counter(
        stop.id for route in solution.routes for stop in route.stops if stop.kind == StopKind.JOB
    )
    unassigned = Counter(item.job for item in solution.unassigned)
    for one in problem.jobs:
        assert visits[one.id] + unassigned[one.id] == 1, one.id
    assert set(visits) | set(unassigned) == {one.id for one in problem.jobs}
    for item in solution.unassigned:
        assert isinstance(item.code, Reason)
        assert item.reason.strip(), item
    return report


# --- the shipped days, solved once per session ------------------------------------------


@dataclass(frozen=True)
class Solved:
    """A problem, the plan ``solve`` made for it and every progress report on the way."""

    problem: Problem
    solution: Solution
    progress: tuple[tuple[float, int, float], ...]


def _solved(path: Path, seconds: float) -> Solved:
    problem = read_problem(path)
    reports: list[tuple[float, int, float]] = []
    solution = plan(
        problem,
        seconds,
        on_progress=lambda score, served, elapsed: reports.append((score, served, elapsed)),
    )
    return Solved(problem, solution, tuple(reports))


@pytest.fixture(scope="session")
def oslo() -> Solved:
    """oslo-5x30 (5 technicians with breaks, 30 jobs, one warehouse) solved for 1 s."""
    return _solved(SCENARIOS / "oslo-5x30.json", 1.0)


@pytest.fixture(scope="session")
def stockholm() -> Solved:
    """stockholm-20x120 (20 technicians, 120 jobs, two warehouses) solved for 2 s."""
    return _solved(SCENARIOS / "stockholm-20x120.json", 2.0)


@pytest.fixture(scope="session")
def c101() -> Solved:
    """Solomon C101 (25 vehicles, 100 customers) solved for 1 s."""
    return _solved(SOLOMON / "C101.txt", 1.0)

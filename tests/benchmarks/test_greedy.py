"""The greedy dispatcher: checker-valid plans, priority order, parts, breaks and reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.greedy import greedy_solution
from optimizer.check import check
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
from optimizer.solution import Reason, Solution, StopKind
from optimizer.travel import EuclideanTravel

DATA = Path(__file__).parents[1] / "data"


def minutes(n: int) -> int:
    """Ticks of the tiny problems below: seconds, so one plane unit is one minute's drive."""
    return n * 60


def technician(ident: str, skills: set[str], **extra) -> Technician:
    """A technician at the origin working 0-600 min, unless told otherwise."""
    home = Location(0, 0)
    shift = extra.pop("shift", TimeWindow(0, minutes(600)))
    return Technician(ident, home, home, shift, frozenset(skills), **extra)


def job(ident: str, x: float, duration: int, priority: Priority = Priority.NORMAL, **extra) -> Job:
    return Job(ident, Location(x, 0), minutes(duration), priority, frozenset({"hvac"}), **extra)


def tiny(technicians, jobs, warehouses=()) -> Problem:
    """A plane where a unit of distance takes a minute (60 ticks) to drive."""
    return Problem("tiny", EuclideanTravel(60), tuple(technicians), tuple(jobs), tuple(warehouses))


def valid(problem: Problem, solution: Solution) -> None:
    report = check(problem, solution)
    assert report.violations == ()


@pytest.mark.parametrize("day", ["oslo-5x30", "stockholm-20x120"])
def test_plans_of_small_days_pass_the_checker(day: str) -> None:
    """Every hard rule holds (skills, pins, windows, shifts, breaks, parts, stock)."""
    problem = read_problem(DATA / "fieldservice" / f"{day}.json")
    solution = greedy_solution(problem)
    valid(problem, solution)
    assert any(s.kind == StopKind.WAREHOUSE for r in solution.routes for s in r.stops)


@pytest.mark.parametrize("instance", ["C101", "R101"])
def test_solomon_plans_serve_every_customer(instance: str) -> None:
    """Capacity and tight windows are respected and nobody is left out."""
    problem = read_problem(DATA / "solomon" / f"{instance}.txt")
    solution = greedy_solution(problem)
    valid(problem, solution)
    assert solution.unassigned == ()


def test_emergency_goes_first_even_when_a_low_job_is_cheaper() -> None:
    """Only one of two hvac jobs fits the shift: the emergency one gets it, not the low one."""
    problem = tiny(
        [technician("T-1", {"hvac"}, shift=TimeWindow(0, minutes(130)))],
        [job("A-low", 10, 60, Priority.LOW), job("Z-emergency", 30, 60, Priority.EMERGENCY)],
    )
    solution = greedy_solution(problem)
    valid(problem, solution)
    assert solution.routes[0].job_ids == ("Z-emergency",)
    assert [(u.job, u.code) for u in solution.unassigned] == [("A-low", Reason.NOT_ENOUGH_TIME)]


def test_job_goes_where_it_adds_least_travel() -> None:
    """Of two technicians, the one whose day gets the shorter detour takes the job."""
    far = Technician(
        "T-far", Location(0, 0), Location(0, 0), TimeWindow(0, minutes(600)), frozenset({"hvac"})
    )
    near = Technician(
        "T-near",
        Location(40, 0),
        Location(40, 0),
        TimeWindow(0, minutes(600)),
        frozenset({"hvac"}),
    )
    problem = tiny([far, near], [job("J-1", 30, 10)])
    solution = greedy_solution(problem)
    assert [r.technician for r in solution.routes] == ["T-near"]


def test_missing_parts_are_picked_up_right_before_the_job() -> None:
    """The van lacks two filters: exactly those come from the warehouse that adds least travel."""
    warehouses = [
        Warehouse("W-near", Location(5, 0), TimeWindow(0, minutes(600)), minutes(10), {"FLT": 5}),
        Warehouse("W-far", Location(-50, 0), TimeWindow(0, minutes(600)), minutes(10), {"FLT": 5}),
    ]
    problem = tiny(
        [technician("T-1", {"hvac"}, van_stock={"FLT": 1})],
        [job("J-1", 20, 30, parts={"FLT": 3})],
        warehouses,
    )
    solution = greedy_solution(problem)
    valid(problem, solution)
    stops = solution.routes[0].stops
    assert [(s.kind, s.id, dict(s.pickup)) for s in stops] == [
        (StopKind.WAREHOUSE, "W-near", {"FLT": 2}),
        (StopKind.JOB, "J-1", {}),
    ]


def test_warehouse_stock_is_shared_by_all_pickups() -> None:
    """The nearest warehouse runs out after the first pickup; the second goes elsewhere."""
    warehouses = [
        Warehouse("W-near", Location(5, 0), TimeWindow(0, minutes(600)), minutes(10), {"FLT": 3}),
        Warehouse("W-far", Location(-20, 0), TimeWindow(0, minutes(600)), minutes(10), {"FLT": 5}),
    ]
    problem = tiny(
        [technician("T-1", {"hvac"})],
        [job("J-1", 20, 30, parts={"FLT": 2}), job("J-2", 25, 30, parts={"FLT": 2})],
        warehouses,
    )
    solution = greedy_solution(problem)
    valid(problem, solution)
    calls = [s.id for s in solution.routes[0].stops if s.kind == StopKind.WAREHOUSE]
    assert calls == ["W-near", "W-far"]


def test_break_goes_into_the_wait_before_a_job() -> None:
    """Waiting for a window to open is the first gap where the break fits, so nothing moves."""
    rule = Break(TimeWindow(minutes(100), minutes(200)), minutes(30))
    problem = tiny(
        [technician("T-1", {"hvac"}, break_rule=rule)],
        [
            job("A", 10, 20, window=TimeWindow(0, minutes(50))),
            job("B", 20, 20, window=TimeWindow(minutes(150), minutes(300))),
        ],
    )
    solution = greedy_solution(problem)
    valid(problem, solution)
    kinds = [(s.kind, s.start // 60) for s in solution.routes[0].stops]
    assert kinds == [(StopKind.JOB, 10), (StopKind.BREAK, 100), (StopKind.JOB, 150)]


def test_pins_and_jobs_under_way_are_kept() -> None:
    """A pinned job goes to its technician; a job under way opens its route whatever its priority."""
    problem = tiny(
        [
            technician("T-1", {"hvac"}, fixed_jobs=("J-low",)),
            technician("T-2", {"hvac"}),
        ],
        [
            job("J-low", 10, 10, Priority.LOW),
            job("J-high", 5, 10, Priority.HIGH),
            job("J-pinned", 8, 10, pinned_to="T-2"),
        ],
    )
    solution = greedy_solution(problem)
    valid(problem, solution)
    first, second = solution.route_of("T-1"), solution.route_of("T-2")
    assert first is not None and second is not None
    assert first.job_ids[0] == "J-low"
    assert "J-pinned" in second.job_ids


def test_reasons_name_the_cause() -> None:
    """Nobody skilled, or parts nowhere to be had, are reported as such rather than as time."""
    warehouse = Warehouse("W-1", Location(5, 0), TimeWindow(0, minutes(600)), 600, {"FLT": 1})
    problem = tiny(
        [technician("T-1", {"hvac"})],
        [
            Job("J-lift", Location(3, 0), 600, skills=frozenset({"lift"})),
            job("J-belt", 4, 10, parts={"BELT": 1}),
            job("J-late", 900, 10),
        ],
        [warehouse],
    )
    solution = greedy_solution(problem)
    valid(problem, solution)
    assert {u.job: u.code for u in solution.unassigned} == {
        "J-lift": Reason.NO_SKILLED_TECHNICIAN,
        "J-belt": Reason.PARTS_UNAVAILABLE,
        "J-late": Reason.NOT_ENOUGH_TIME,
    }

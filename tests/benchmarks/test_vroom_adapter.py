"""The VROOM adapter: VROOM's plan, converted back, passes our checker."""

from __future__ import annotations

from pathlib import Path

from benchmarks.vroom_adapter import vroom_solution
from optimizer.check import check
from optimizer.io import read_problem
from optimizer.problem import Job, Location, Problem, Technician, TimeWindow, Warehouse
from optimizer.solution import StopKind
from optimizer.travel import EuclideanTravel

DATA = Path(__file__).parents[1] / "data"


def test_oslo_plan_passes_the_checker() -> None:
    """Breaks, van stock, pins and windows as VROOM plans them keep every hard rule."""
    problem = read_problem(DATA / "fieldservice" / "oslo-5x30.json")
    solution = vroom_solution(problem, time_limit_s=2)
    report = check(problem, solution)
    assert report.violations == ()
    assert sum(report.served.values()) > 0
    breaks = [s for r in solution.routes for s in r.stops if s.kind == StopKind.BREAK]
    assert len(breaks) == len(solution.routes)


def test_parts_no_van_holds_come_from_a_warehouse() -> None:
    """A job whose parts are in no van becomes a pickup at the warehouse, then the job."""
    home = Location(0, 0)
    problem = Problem(
        "tiny",
        EuclideanTravel(60),
        (Technician("T-1", home, home, TimeWindow(0, 36000), frozenset({"hvac"})),),
        (Job("J-1", Location(20, 0), 1800, skills=frozenset({"hvac"}), parts={"FLT": 2}),),
        (Warehouse("W-1", Location(10, 0), TimeWindow(0, 36000), 600, {"FLT": 5}),),
    )
    solution = vroom_solution(problem, time_limit_s=1)
    assert check(problem, solution).violations == ()
    stops = solution.routes[0].stops
    assert [(s.kind, s.id, dict(s.pickup)) for s in stops] == [
        (StopKind.WAREHOUSE, "W-1", {"FLT": 2}),
        (StopKind.JOB, "J-1", {}),
    ]

"""The PyVRP adapter: PyVRP's plan, converted back, passes our checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.pyvrp_adapter import Inexpressible, pyvrp_solution
from optimizer.check import check
from optimizer.io import read_problem
from optimizer.problem import Job, Location, Problem, Technician, TimeWindow
from optimizer.travel import EuclideanTravel

DATA = Path(__file__).parents[1] / "data"
C101_BEST = 828.94  # distonly_distance of C101 in ../shared/benchmarks/solomon/bks.csv


def test_solomon_plan_passes_the_checker_and_serves_everyone() -> None:
    """PyVRP's own times, read back, keep every window and capacity, near the best known."""
    problem = read_problem(DATA / "solomon" / "C101.txt")
    solution = pyvrp_solution(problem, time_limit_s=1, seed=1)
    report = check(problem, solution)
    assert report.violations == ()
    assert solution.unassigned == ()
    assert sum(report.served.values()) == len(problem.jobs) == 100
    assert report.travel_minutes <= 1.1 * C101_BEST


def test_unlike_technicians_keep_their_own_capacity() -> None:
    """Technicians of different capacity are different vehicle types, mapped back to each."""
    depot = Location(0, 0)
    day = TimeWindow(0, 1_000_000)
    problem = Problem(
        "two vans",
        EuclideanTravel(1000),
        (
            Technician("small", depot, depot, day, capacity=1),
            Technician("large", depot, depot, day, capacity=2),
        ),
        tuple(Job(f"J-{n}", Location(n, 0), 1000, demand=1) for n in (1, 2, 3)),
        ticks_per_minute=1000,
    )
    solution = pyvrp_solution(problem, time_limit_s=0.2)
    assert check(problem, solution).violations == ()
    loads = {route.technician: len(route.job_ids) for route in solution.routes}
    assert loads == {"small": 1, "large": 2}


def test_field_service_day_is_not_expressible() -> None:
    """Skills, breaks and priorities have no PyVRP counterpart: n/a, not a wrong plan."""
    problem = read_problem(DATA / "fieldservice" / "oslo-5x30.json")
    with pytest.raises(Inexpressible, match="n/a: PyVRP has no skills"):
        pyvrp_solution(problem, time_limit_s=1)

"""The engine's public surface: what ``optimizer`` exports, and what other solvers build on.

The benchmark baselines must use the engine's own travel matrix and rule of who may do a
job through public names, so that a change inside the engine cannot leave a copy behind.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import optimizer
from optimizer._network import Network
from tests.optimizer.conftest import (
    CENTRE,
    HOME_EAST,
    NORTH,
    SCENARIOS,
    day,
    job,
    technician,
    warehouse,
)

ROOT = Path(__file__).parents[2]


def _optimizer_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every name a file imports from the optimizer package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("optimizer"):
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("optimizer.")]
    return found


@pytest.mark.parametrize(
    "name",
    [
        "solve",
        "SolveParams",
        "check",
        "CheckReport",
        "Violation",
        "check_plan_document",
        "read_problem",
        "scenario_problem",
        "solomon_problem",
        "plan_document",
        "PlanReader",
        "Problem",
        "Technician",
        "Job",
        "Warehouse",
        "Location",
        "TimeWindow",
        "Break",
        "Solution",
        "Route",
        "Stop",
        "StopKind",
        "Unassigned",
        "Reason",
        "Priority",
        "InvalidProblem",
        "TravelModel",
        "travel_matrix",
        "may_serve",
        "insertion_candidates",
        "Candidate",
        "apply_candidate",
        "why_no_candidate",
        "retime_route",
        "assigned_technicians",
        "moved_jobs",
    ],
)
def test_public_names_come_from_the_package(name: str) -> None:
    """Each public name is importable from ``optimizer`` itself, not only from a submodule."""
    assert getattr(optimizer, name) is not None


def test_the_package_is_typed() -> None:
    """``py.typed`` ships with the package, so type checkers of its users read its hints."""
    assert (Path(optimizer.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import_only_public_names(path: Path) -> None:
    """The baselines import from ``optimizer`` itself, and nothing private."""
    for module, name in _optimizer_imports(path):
        assert module == "optimizer", f"{path.name} imports from {module}"
        assert not name.startswith("_"), f"{path.name} imports {name}"


def test_travel_matrix_rows_are_the_engines_nodes() -> None:
    """Every id's row is the engine's node for it, and the ticks are the engine's travel."""
    problem = optimizer.read_problem(SCENARIOS / "oslo-5x30.json")
    net = Network.build(problem)

    matrix = optimizer.travel_matrix(problem)

    assert np.array_equal(matrix.ticks, net.travel)
    assert [matrix.job[j.id] for j in problem.jobs] == list(range(net.n_jobs))
    assert [matrix.warehouse[w.id] for w in problem.warehouses] == [
        net.warehouse_node(i) for i in range(net.n_warehouses)
    ]
    everyone = range(len(problem.technicians))
    assert [matrix.start[t.id] for t in problem.technicians] == [
        net.start_node(t) for t in everyone
    ]
    assert [matrix.end[t.id] for t in problem.technicians] == [net.end_node(t) for t in everyone]
    home = problem.technicians[0].start
    first = problem.jobs[0].location
    leg = problem.travel.matrix([home, first])[0, 1]
    assert matrix.ticks[
        matrix.start[problem.technicians[0].id], matrix.job[problem.jobs[0].id]
    ] == (leg)


def test_may_serve_is_skills_and_pin() -> None:
    """A technician may serve a job holding all its skills, and only its pinned one if pinned."""
    both = technician("T-1", {"hvac", "electrical"})
    hvac = technician("T-2", {"hvac"}, home=HOME_EAST)
    problem = day(
        [both, hvac],
        [
            job("J-HVAC", NORTH, skills={"hvac"}),
            job("J-BOTH", CENTRE, skills={"hvac", "electrical"}),
            job("J-PINNED", CENTRE, skills={"hvac"}, pinned="T-2"),
        ],
        [warehouse()],
    )
    may = {
        (t.id, j.id)
        for t in problem.technicians
        for j in problem.jobs
        if optimizer.may_serve(t, j)
    }

    assert may == {("T-1", "J-HVAC"), ("T-2", "J-HVAC"), ("T-1", "J-BOTH"), ("T-2", "J-PINNED")}

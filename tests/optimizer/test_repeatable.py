"""Repeatable runs: the same seed and iterations give the same plan, byte for byte.

A run bounded by iterations (``SolveParams.iterations``) must not depend on the clock,
on how many search processes share the work, or on the order Python hashes strings in
(``PYTHONHASHSEED``), or a bug report's plan could not be made again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer import Problem, SolveParams, plan_document, read_problem, solve
from tests.optimizer.conftest import SCENARIOS

OSLO = SCENARIOS / "oslo-5x30.json"
SEED, ITERATIONS = 7, 1
#: Far more than the run needs: if it stopped the run, the run would not be repeatable.
CAP_S = 120.0

#: The same run, in a fresh interpreter, printing its plan document.
CHILD = f"""
import json
from optimizer import SolveParams, plan_document, read_problem, solve

if __name__ == "__main__":
    problem = read_problem({str(OSLO)!r})
    params = SolveParams(time_limit_s={CAP_S}, iterations={ITERATIONS}, seed={SEED}, workers=2)
    print(json.dumps(plan_document(problem, solve(problem, params)), indent=1))
"""


@pytest.fixture(scope="module")
def oslo_day() -> Problem:
    return read_problem(OSLO)


def _document(problem: Problem, **params: object) -> str:
    solution = solve(problem, SolveParams(**params))  # type: ignore[arg-type]
    return json.dumps(plan_document(problem, solution), indent=1) + "\n"


def test_same_seed_and_iterations_give_the_same_plan_anywhere(oslo_day: Problem) -> None:
    """One search process, two, and two in a fresh interpreter hashing strings otherwise:
    the same document each time, and a searched one (not the construction's)."""
    repeatable = {"time_limit_s": CAP_S, "iterations": ITERATIONS, "seed": SEED}
    alone = _document(oslo_day, workers=1, **repeatable)
    side_by_side = _document(oslo_day, workers=2, **repeatable)
    other_hashes = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=Path(__file__).parents[2],
        env=os.environ | {"PYTHONHASHSEED": other_hashes},
        capture_output=True,
        text=True,
        timeout=CAP_S,
        check=True,
    )

    assert side_by_side == alone
    assert child.stdout == alone
    assert alone != _document(oslo_day, time_limit_s=0.0)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("iterations", 0, ValueError),
        ("iterations", 2.5, TypeError),
        ("iterations", True, TypeError),
        ("seed", -1, ValueError),
        ("seed", "7", TypeError),
    ],
)
def test_bad_seed_or_iterations_are_refused(field: str, value: object, error: type) -> None:
    """Iterations are a whole number of at least one; a seed a whole number of at least zero."""
    with pytest.raises(error, match=field):
        SolveParams(**{field: value})  # type: ignore[arg-type]


def test_a_day_searched_in_parts_is_repeatable_too() -> None:
    """madrid-100x600 (600 jobs, breaks) goes through ruin and recreate on parts of the
    day and OR-Tools on groups: with one search process or two, the same plan."""
    madrid = read_problem(SCENARIOS / "madrid-100x600.json")
    repeatable = {"time_limit_s": CAP_S, "iterations": ITERATIONS, "seed": SEED}
    alone = _document(madrid, workers=1, **repeatable)
    assert _document(madrid, workers=2, **repeatable) == alone
    assert alone != _document(madrid, time_limit_s=0.0)

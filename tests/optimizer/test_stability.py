"""Re-plan stability: a job served away from its incumbent technician costs the search
``move_cost_min``, so a re-plan keeps who does what unless moving gains more.

The day: T-1 lives in the west and T-2 in the east, with the same skills, and the
published plan has them crossed (T-1 on the two eastern jobs, T-2 on the two western
ones). Uncrossing saves about a quarter of an hour of driving per job: worth it at no
move cost, not at the default hour per job.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

import optimizer
from optimizer._construct import RoutesState
from optimizer._network import Network
from optimizer._ortools import SearchVariant, improve
from optimizer._search import DESCENT, subproblem
from optimizer.eligibility import eligibility
from optimizer.problem import Location, Priority, Problem
from optimizer.solution import Route, Solution, Stop, StopKind, Unassigned
from optimizer.solve import SolveParams
from tests.optimizer.conftest import (
    CENTRE,
    EAST,
    HOME_EAST,
    HOME_WEST,
    WEST,
    assert_sound,
    day,
    job,
    plan,
    served_by,
    technician,
)

NEAR_HOME_WEST = Location(59.935, 10.700)
NEAR_HOME_EAST = Location(59.895, 10.810)
CROSSED = {"J-W1": "T-2", "J-W2": "T-2", "J-E1": "T-1", "J-E2": "T-1"}
UNCROSSED = {"J-W1": "T-1", "J-W2": "T-1", "J-E1": "T-2", "J-E2": "T-2"}


def two_sides(*extra_jobs: optimizer.Job, fixed_for_t2: tuple[str, ...] = ()) -> Problem:
    """T-1 (west) and T-2 (east), both plumbers, and two jobs near each home."""
    return day(
        [
            technician("T-1", {"plumbing"}, home=HOME_WEST),
            technician("T-2", {"plumbing"}, home=HOME_EAST, fixed=fixed_for_t2),
        ],
        [
            job("J-W1", WEST, skills={"plumbing"}),
            job("J-W2", NEAR_HOME_WEST, skills={"plumbing"}),
            job("J-E1", EAST, skills={"plumbing"}),
            job("J-E2", NEAR_HOME_EAST, skills={"plumbing"}),
            *extra_jobs,
        ],
    )


def published(problem: Problem) -> Solution:
    """The crossed plan, as a dispatcher might have published it: built with pins."""
    pinned = replace(
        problem,
        jobs=tuple(
            replace(j, pinned_to=CROSSED[j.id]) if j.id in CROSSED else j for j in problem.jobs
        ),
    )
    solution = plan(pinned)
    assert served_by(solution) == CROSSED
    return solution


# --- the construction --------------------------------------------------------------------


def test_construction_keeps_jobs_with_their_incumbent() -> None:
    """Built from scratch, each job goes to its incumbent; without one, to the nearer home."""
    problem = two_sides()

    assert served_by(plan(problem, incumbent=CROSSED)) == CROSSED
    assert served_by(plan(problem)) == UNCROSSED


def test_a_small_move_cost_is_a_price_not_a_ban() -> None:
    """At one minute per job, uncrossing (about 15 minutes saved per job) is worth it."""
    solution = plan(two_sides(), incumbent=CROSSED, move_cost_min=1.0)

    assert served_by(solution) == UNCROSSED
    assert sorted(optimizer.moved_jobs(CROSSED, solution)) == sorted(CROSSED)


def test_a_zero_move_cost_plans_as_without_an_incumbent() -> None:
    """With no cost per move the incumbent changes nothing."""
    problem = two_sides()

    assert plan(problem, incumbent=CROSSED, move_cost_min=0.0) == plan(problem)


# --- the search ----------------------------------------------------------------------------


def test_replan_from_the_published_plan_moves_nothing_with_the_incumbent() -> None:
    """The search uncrosses the published plan when free to, and keeps it with the incumbent."""
    problem = two_sides()
    start = published(problem)

    kept = plan(problem, 1.0, initial=start, incumbent=CROSSED, workers=1)
    free = plan(problem, 1.0, initial=start, workers=1)

    assert_sound(problem, kept)
    assert optimizer.moved_jobs(CROSSED, kept) == []
    assert served_by(free) == UNCROSSED


@pytest.mark.parametrize(
    ("variant", "move_cost_min", "expected"),
    [
        (DESCENT, 60, CROSSED),
        (DESCENT, 0, UNCROSSED),
        (SearchVariant(from_routes=False), 60, CROSSED),
        (SearchVariant(from_routes=False), 0, UNCROSSED),
    ],
    ids=["from-routes-cost", "from-routes-free", "own-start-cost", "own-start-free"],
)
def test_or_tools_prices_moves(
    variant: SearchVariant, move_cost_min: int, expected: dict[str, str]
) -> None:
    """OR-Tools alone, from the crossed routes or its own start, keeps them only at a cost."""
    problem = two_sides()
    node = {j.id: n for n, j in enumerate(problem.jobs)}
    technician = {t.id: n for n, t in enumerate(problem.technicians)}
    net = replace(
        Network.build(problem),
        incumbent={node[j]: technician[t] for j, t in CROSSED.items()},
        move_cost=move_cost_min * problem.ticks_per_minute,
    )
    state = RoutesState.empty(net)
    state.commit_valid_prefix(technician["T-1"], [node["J-E1"], node["J-E2"]])
    state.commit_valid_prefix(technician["T-2"], [node["J-W1"], node["J-W2"]])
    everyone = tuple(technician.values())

    routes = improve(
        net, subproblem(net, eligibility(net), state, everyone), variant, time_limit_s=1
    )

    assert routes is not None
    ids = [j.id for j in problem.jobs]
    found = {ids[v]: problem.technicians[t].id for t, route in enumerate(routes) for v in route}
    assert found == expected


def test_a_new_job_is_served_and_nothing_moves_for_it() -> None:
    """An emergency absent from the incumbent costs no move and is served."""
    emergency = job(
        "J-NEW", CENTRE, 45, Priority.EMERGENCY, skills={"plumbing"}, span=("10:00", "16:00")
    )
    problem = two_sides(emergency)
    start = published(two_sides())

    replanned = plan(problem, 1.0, initial=start, incumbent=CROSSED, workers=1)

    assert_sound(problem, replanned)
    assert "J-NEW" in served_by(replanned)
    assert optimizer.moved_jobs(CROSSED, replanned) == []


def test_a_job_under_way_stays_whatever_the_incumbent_says() -> None:
    """T-2 is on its way to J-W1: it stays first on T-2's route though J-W1's incumbent is T-1."""
    problem = two_sides(fixed_for_t2=("J-W1",))
    incumbent = CROSSED | {"J-W1": "T-1"}

    replanned = plan(problem, 1.0, incumbent=incumbent, workers=1)

    assert_sound(problem, replanned)
    route = replanned.route_of("T-2")
    assert route is not None and route.job_ids[0] == "J-W1"


def test_ids_the_day_no_longer_has_are_ignored() -> None:
    """A cancelled job and a technician gone home in the incumbent change nothing else."""
    problem = two_sides()
    incumbent = CROSSED | {"J-W1": "T-9", "J-CANCELLED": "T-1"}

    solution = plan(problem, incumbent=incumbent)

    assert_sound(problem, solution)
    assert served_by(solution) == CROSSED | {"J-W1": "T-1"}


# --- parameters and the public helpers -----------------------------------------------------


@pytest.mark.parametrize("cost", [-1.0, math.nan, math.inf])
def test_a_move_cost_that_is_negative_or_not_finite_is_refused(cost: float) -> None:
    """A move cost below zero (or not a number) would reward moving jobs, so it is refused."""
    with pytest.raises(ValueError, match="move_cost_min"):
        SolveParams(incumbent=CROSSED, move_cost_min=cost)


def test_the_incumbent_is_copied_when_the_params_are_built() -> None:
    """Changing the caller's mapping afterwards does not change the params."""
    incumbent = dict(CROSSED)
    params = SolveParams(incumbent=incumbent)

    incumbent["J-W1"] = "T-1"

    assert params.incumbent == CROSSED


def test_moved_jobs_are_those_served_by_another_technician() -> None:
    """A job served elsewhere is moved; one left out is not (it is unassigned, with a reason)."""

    def visit(job_id: str) -> Stop:
        return Stop(StopKind.JOB, job_id, 0, 0, 0)

    solution = Solution(
        (
            Route("T-1", 0, 0, (visit("A"), visit("C"))),
            Route("T-2", 0, 0, (visit("D"), visit("NEW"))),
        ),
        (Unassigned("B", optimizer.Reason.NOT_ENOUGH_TIME, "no room"),),
    )
    incumbent = {"A": "T-1", "B": "T-1", "C": "T-2", "D": "T-2"}

    assert optimizer.assigned_technicians(solution) == {
        "A": "T-1",
        "C": "T-1",
        "D": "T-2",
        "NEW": "T-2",
    }
    assert optimizer.moved_jobs(incumbent, solution) == ["C"]

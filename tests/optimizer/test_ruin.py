"""Ruin and recreate: strings of jobs come out of routes, the state stays valid, OR-Tools descends
from what is left."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from optimizer._construct import RoutesState, construct
from optimizer._network import Network
from optimizer._ortools import SearchVariant, improve
from optimizer._ruin import AVERAGE_REMOVED, MAX_STRING, ruin
from optimizer._schedule import evaluate
from optimizer._search import DESCENT, subproblem
from optimizer.eligibility import eligibility
from optimizer.io import read_problem
from optimizer.problem import Problem
from tests.optimizer.conftest import (
    EAST,
    HOME_EAST,
    HOME_WEST,
    NORTH,
    SCENARIOS,
    SOLOMON,
    WEST,
    day,
    job,
    technician,
)

SEEDS = range(40)


def constructed(problem: Problem) -> tuple[Network, RoutesState]:
    net = Network.build(problem)
    return net, construct(net, eligibility(net))


@pytest.fixture(scope="module")
def stockholm_built() -> tuple[Network, RoutesState]:
    """stockholm-20x120 as constructed: breaks, vans, warehouse calls."""
    return constructed(read_problem(SCENARIOS / "stockholm-20x120.json"))


def everyone(net: Network) -> tuple[int, ...]:
    return tuple(range(len(net.problem.technicians)))


def removed_positions(before: list[int], after: list[int]) -> list[int]:
    """Positions of ``before`` missing from ``after``, which must keep the rest in order."""
    kept = iter(after)
    missing, expected = [], next(kept, None)
    for position, visit in enumerate(before):
        if visit == expected:
            expected = next(kept, None)
        else:
            missing.append(position)
    assert expected is None, "a ruined route gained or reordered visits"
    return missing


@pytest.mark.parametrize("seed", SEEDS)
def test_ruin_takes_one_string_of_jobs_from_each_route_it_touches(
    stockholm_built: tuple[Network, RoutesState], seed: int
) -> None:
    net, built = stockholm_built
    state = built.snapshot()
    removed = ruin(state, everyone(net), random.Random(seed))

    touched = 0
    for tech, before in enumerate(built.routes):
        after = state.routes[tech]
        missing = removed_positions(before, after)
        if not missing:
            continue
        touched += 1
        assert all(net.is_job(before[p]) for p in missing), "warehouse calls stay"
        jobs_at = [p for p, v in enumerate(before) if net.is_job(v)]
        run = jobs_at[jobs_at.index(missing[0]) : jobs_at.index(missing[0]) + len(missing)]
        assert run == missing, "the removed jobs are consecutive among the route's jobs"
        assert len(missing) <= MAX_STRING
    assert 1 <= len(removed) == len(built.assigned()) - len(state.assigned())
    assert set(removed) == built.assigned() - state.assigned()
    assert 1 <= touched < 4 * AVERAGE_REMOVED / 2


def test_ruin_removes_jobs_close_to_each_other(
    stockholm_built: tuple[Network, RoutesState],
) -> None:
    """The strings lie near one seed: removed jobs are closer together than jobs at random."""
    net, built = stockholm_built
    rng = random.Random(7)
    spread, random_spread = [], []
    for _ in SEEDS:
        state = built.snapshot()
        ruin(state, everyone(net), rng)
        gone = sorted(built.assigned() - state.assigned())
        if len(gone) < 2:
            continue
        spread.append(net.travel[gone][:, gone].mean())
        others = rng.sample(sorted(built.assigned()), len(gone))
        random_spread.append(net.travel[others][:, others].mean())
    assert sum(spread) < 0.8 * sum(random_spread)


@pytest.mark.parametrize("seed", SEEDS)
def test_ruined_state_stays_valid(stockholm_built: tuple[Network, RoutesState], seed: int) -> None:
    """Routes are re-timed and the warehouses get back what the removed jobs needed."""
    net, built = stockholm_built
    state = built.snapshot()
    ruin(state, everyone(net), random.Random(seed))

    picked: list[Counter[str]] = [Counter() for _ in net.problem.warehouses]
    for tech, route in enumerate(state.routes):
        timing = state.timings[tech]
        if not route:
            assert timing is None
            continue
        assert timing is not None
        assert timing == evaluate(net, tech, route)
        for position, parts in timing.pickups.items():
            picked[route[position] - net.n_jobs].update(parts)
    for w, house in enumerate(net.problem.warehouses):
        assert state.warehouse_left[w] + picked[w] == Counter(house.stock) + Counter()


def test_jobs_under_way_are_never_removed() -> None:
    problem = day(
        [technician(f"T-{k}", fixed=(f"J-{k}-a", f"J-{k}-b")) for k in range(3)],
        [job(f"J-{k}-{x}", minutes=20) for k in range(3) for x in "abcd"],
    )
    net, built = constructed(problem)
    fixed = [list(route[:2]) for route in built.routes]
    for seed in SEEDS:
        state = built.snapshot()
        ruin(state, everyone(net), random.Random(seed))
        assert [route[:2] for route in state.routes] == fixed


def test_nothing_to_remove_when_every_job_is_under_way() -> None:
    problem = day([technician("T-1", fixed=("J-1", "J-2"))], [job("J-1"), job("J-2")])
    net, built = constructed(problem)
    state = built.snapshot()
    assert ruin(state, everyone(net), random.Random(0)) == []
    assert state.routes == built.routes


@pytest.mark.parametrize(
    "variant", [DESCENT, SearchVariant(from_routes=False)], ids=["from-routes", "own-start"]
)
def test_or_tools_keeps_jobs_under_way_first_in_their_order(variant: SearchVariant) -> None:
    """OR-Tools opens T-1's route with its jobs under way, in order, though the reverse is shorter.

    It must, from our routes and from a first solution of its own: a group plan that moved
    them would be thrown away whole.
    """
    problem = day(
        [
            technician("T-1", home=HOME_WEST, end=HOME_EAST, fixed=("J-FAR", "J-NEAR")),
            technician("T-2", home=HOME_EAST),
        ],
        [job("J-NEAR", WEST), job("J-FAR", EAST), job("J-Z", NORTH)],
    )
    net, built = constructed(problem)
    ids = [j.id for j in problem.jobs]  # a job's node is its index
    far, near = ids.index("J-FAR"), ids.index("J-NEAR")
    sub = subproblem(net, eligibility(net), built, everyone(net))

    routes = improve(net, sub, variant, time_limit_s=2)

    assert routes is not None
    assert routes[0][:2] == [far, near]
    assert sorted(v for route in routes for v in route if net.is_job(v)) == list(range(net.n_jobs))


def test_descent_after_a_ruin_serves_the_jobs_again_and_stops_by_itself() -> None:
    """The step after a ruin ends at a local optimum, long before its time limit."""
    net, built = constructed(read_problem(SOLOMON / "R101.txt"))
    state = built.snapshot()
    assert ruin(state, everyone(net), random.Random(3))
    sub = subproblem(net, eligibility(net), state, everyone(net))

    began = time.monotonic()
    routes = improve(net, sub, DESCENT, time_limit_s=60)
    assert time.monotonic() - began < 30

    assert routes is not None
    assert sorted(v for route in routes for v in route) == list(range(net.n_jobs))

"""Our own ruin and recreate: it improves the plan, keeps it valid, and repeats with a seed;
the time bounds that spare it exact timings never refuse a feasible place."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from optimizer import _construct
from optimizer._construct import RoutesState, _candidates_by_detour, construct, insert, variants
from optimizer._network import Network
from optimizer._recreate import Budget, _Search, ruin_and_recreate
from optimizer._schedule import evaluate
from optimizer.eligibility import eligibility
from optimizer.io import read_problem
from optimizer.problem import Priority
from tests.optimizer import conftest as build
from tests.optimizer.conftest import CENTRE, SCENARIOS

ROUNDS = 300


@pytest.fixture(scope="module")
def stockholm() -> tuple[Network, RoutesState]:
    """stockholm-20x120 as constructed: breaks, vans, warehouse calls, jobs left out."""
    net = Network.build(read_problem(SCENARIOS / "stockholm-20x120.json"))
    return net, construct(net, eligibility(net))


def _search(
    net: Network, built: RoutesState, seed: int, rounds: int = ROUNDS
) -> tuple[RoutesState, list[float]]:
    state = built.snapshot()
    reported: list[float] = []
    everyone = tuple(range(len(net.problem.technicians)))
    ruin_and_recreate(
        net,
        eligibility(net),
        state,
        everyone,
        range(net.n_jobs),
        Budget(deadline=float("inf"), rounds=rounds),
        random.Random(seed),
        lambda score, _served: reported.append(score),
    )
    return state, reported


def test_the_search_improves_the_plan_and_reports_its_best(
    stockholm: tuple[Network, RoutesState],
) -> None:
    net, built = stockholm
    state, reported = _search(net, built, seed=1)
    assert state.score() < built.score() - 1
    assert reported, "improvements are reported"
    assert reported == sorted(reported, reverse=True)
    assert reported[-1] == pytest.approx(state.score())


def test_the_plan_stays_valid(stockholm: tuple[Network, RoutesState]) -> None:
    """Every route timed as the schedule times it, every job once, stock accounted for."""
    net, built = stockholm
    state, _ = _search(net, built, seed=2)
    picked: list[Counter[str]] = [Counter() for _ in net.problem.warehouses]
    jobs = [v for route in state.routes for v in route if net.is_job(v)]
    assert len(jobs) == len(set(jobs))
    for technician, route in enumerate(state.routes):
        timing = state.timings[technician]
        assert timing == (evaluate(net, technician, route) if route else None)
        if timing is not None:
            assert all(parts for parts in timing.pickups.values()), "no idle warehouse call"
            for position, parts in timing.pickups.items():
                picked[route[position] - net.n_jobs].update(parts)
    for w, house in enumerate(net.problem.warehouses):
        assert all(n >= 0 for n in state.warehouse_left[w].values())
        assert state.warehouse_left[w] + picked[w] == Counter(house.stock) + Counter()


def test_the_same_seed_gives_the_same_routes(stockholm: tuple[Network, RoutesState]) -> None:
    net, built = stockholm
    first, _ = _search(net, built, seed=3, rounds=100)
    again, _ = _search(net, built, seed=3, rounds=100)
    other, _ = _search(net, built, seed=4, rounds=100)
    assert first.routes == again.routes
    assert other.routes != first.routes


def test_time_bounds_keep_every_feasible_place(stockholm: tuple[Network, RoutesState]) -> None:
    """Each place where the job fits by the exact schedule is among the candidates, and
    places are refused: the bounds spare timings without losing a feasible place."""
    net, built = stockholm
    state, _ = _search(net, built, seed=5, rounds=50)
    refused = 0
    for job in range(0, net.n_jobs, 3):
        technicians = [t for t in range(len(state.routes)) if job not in state.routes[t]]
        offered = {(t, p) for _, t, p in _candidates_by_detour(state, job, technicians)}
        for technician in technicians:
            route = state.routes[technician]
            for position in range(state.fixed[technician], len(route) + 1):
                visits = [*route[:position], job, *route[position:]]
                if (technician, position) not in offered:
                    refused += 1
                    assert evaluate(net, technician, visits, parts=False) is None
    assert refused > 0


def test_no_place_costs_less_than_its_detour(stockholm: tuple[Network, RoutesState]) -> None:
    """The detour is a lower bound of what a place adds (lateness, breaks and warehouse
    calls only add to it), which is what lets an insertion stop comparing places early."""
    net, built = stockholm
    state, _ = _search(net, built, seed=6, rounds=50)
    compared = 0
    for job in range(net.n_jobs):
        technicians = [t for t in range(len(state.routes)) if job not in state.routes[t]]
        for detour, technician, position in _candidates_by_detour(state, job, technicians)[:20]:
            route = state.routes[technician]
            for visits in variants(net, technician, route, position, job):
                timing = evaluate(net, technician, visits)
                if timing is not None:
                    compared += 1
                    added = state.route_cost(technician, visits, timing) - state.cost(technician)
                    assert added >= detour
    assert compared > 500


def test_room_is_made_for_a_job_only_a_busy_specialist_can_do() -> None:
    """The gas fitter's day fills with jobs anybody could do, so the gas job is left out;
    the search moves one of them to the colleague who has room, and serves the gas job."""
    problem = build.day(
        [
            build.technician("T-gas", skills={"gas"}, shift=("08:00", "12:00")),
            build.technician("T-any", shift=("08:00", "12:00")),
        ],
        [build.job(f"J-{k}", CENTRE, minutes=40) for k in range(6)]
        + [build.job("GAS", CENTRE, minutes=60, priority=Priority.LOW, skills={"gas"})],
    )
    net = Network.build(problem)
    built = construct(net, eligibility(net))
    gas = problem.jobs.index(problem.job("GAS"))
    assert gas not in built.assigned(), "the construction fills the gas fitter's day first"

    state, _ = _search(net, built, seed=0, rounds=200)
    assert state.assigned() == set(range(net.n_jobs))
    assert gas in state.routes[0]


def _one_hour_with(on_route: Priority) -> tuple[RoutesState, _Search, int, int]:
    """One technician with an hour, holding a 40-minute job of ``on_route``'s priority;
    a 40-minute normal job at the same door is left out: both cannot fit."""
    problem = build.day(
        [build.technician("T-1", home=CENTRE, shift=("08:00", "09:00"))],
        [build.job("ON-ROUTE", minutes=40, priority=on_route), build.job("OUT", minutes=40)],
    )
    net = Network.build(problem)
    state = RoutesState.empty(net)
    assert insert(state, 0, [0]) == 0
    assert insert(state.snapshot(), 1, [0]) is None
    search = _Search(net, eligibility(net), state, (0,), {0, 1}, random.Random(0))
    return state, search, 0, 1


def test_a_job_with_no_place_puts_a_less_urgent_one_out() -> None:
    """A normal job left out is worth more than a low one served: it takes the low one's place."""
    state, search, low, normal = _one_hour_with(Priority.LOW)
    assert search._eject(normal, [0]) == (0, low)
    assert state.routes[0] == [normal]
    assert state.timings[0] == evaluate(state.net, 0, [normal])


def test_a_job_puts_out_no_job_as_urgent_as_itself() -> None:
    state, search, _, normal = _one_hour_with(Priority.NORMAL)
    route = state.routes[0]
    assert search._eject(normal, [0]) == (None, None)
    assert state.routes[0] is route


def test_alike_technicians_are_twins_unless_re_planning() -> None:
    """Empty routes of technicians alike in all but the id take a job alike: one is tried."""
    problem = build.day(
        [
            build.technician("T-1"),
            build.technician("T-2"),
            build.technician("T-gas", skills={"gas"}),
            build.technician("T-3"),
        ],
        [build.job("J-1")],
    )
    net = Network.build(problem)
    assert net.twins == [0, 0, 2, 0]
    re_planning = replace(Network.build(problem), incumbent={0: 1}, move_cost=60)
    assert re_planning.twins == [0, 1, 2, 3]


def test_an_empty_twin_takes_the_job_as_the_first_would() -> None:
    problem = build.day(
        [build.technician("T-1"), build.technician("T-2", home=CENTRE), build.technician("T-3")],
        [build.job("J-1", CENTRE)],
    )
    net = Network.build(problem)
    state = RoutesState.empty(net)
    places = _candidates_by_detour(state, 0, [2, 1, 0])
    assert [technician for _, technician, _ in places] == [1, 2], "T-1 is T-3's twin"


def test_blinks_pass_over_places(
    stockholm: tuple[Network, RoutesState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every place passed over: the job stays out; none: it goes where it adds least."""
    net, built = stockholm
    job = next(j for j in range(net.n_jobs) if j not in built.assigned())
    everyone = range(len(net.problem.technicians))
    placed = built.snapshot()
    monkeypatch.setattr(_construct, "BLINK_RATE", 0.0)
    assert insert(placed, job, everyone, random.Random(0)) is not None
    monkeypatch.setattr(_construct, "BLINK_RATE", 1.0)
    blinked = built.snapshot()
    assert insert(blinked, job, everyone, random.Random(0)) is None
    assert blinked.routes == built.routes

"""A large day searched in parts: which part each job left out is offered to."""

from __future__ import annotations

from optimizer._construct import RoutesState
from optimizer._network import Network
from optimizer._search import PART_ROUNDS, _nearest_parts, split
from optimizer.eligibility import eligibility
from optimizer.problem import Location
from tests.optimizer.conftest import EAST, HOME_EAST, HOME_WEST, WEST, day, job, technician

# Nearer the east technician's home (3.9 km) than the west one's (5 km)...
NORTH_EAST = Location(59.935, 10.800)
# ... but half a kilometre from a job on the west technician's route.
ON_WEST_ROUTE = Location(59.940, 10.800)


def test_a_job_left_out_goes_to_the_part_of_the_nearest_technician_able_to_do_it() -> None:
    problem = day(
        [
            technician("T-W", ["boiler", "lift"], home=HOME_WEST),
            technician("T-E", ["boiler"], home=HOME_EAST),
        ],
        [
            job("J-EAST", EAST, skills=["boiler"]),
            job("J-WEST", WEST, skills=["boiler"]),
            job("J-LIFT", EAST, skills=["lift"]),  # only the west technician may
            job("J-NEAR-ROUTE", NORTH_EAST, skills=["boiler"]),
            job("J-ROUTED", ON_WEST_ROUTE, skills=["boiler"]),
        ],
    )
    net = Network.build(problem)
    state = RoutesState.empty(net)
    ids = [j.id for j in problem.jobs]  # a job's node is its index
    state.commit_valid_prefix(0, [ids.index("J-ROUTED")])
    assert state.routes[0] == [ids.index("J-ROUTED")]

    for parts, west, east in (([(0,), (1,)], 0, 1), ([(1,), (0,)], 1, 0)):
        home = _nearest_parts(net, eligibility(net), state, parts)

        assert {ids[j]: part for j, part in home.items()} == {
            "J-EAST": east,
            "J-WEST": west,
            "J-LIFT": west,
            "J-NEAR-ROUTE": west,
        }


def test_a_job_nobody_in_the_parts_may_do_is_offered_to_none() -> None:
    problem = day(
        [technician("T-W", ["boiler"], home=HOME_WEST), technician("T-E", ["gas"])],
        [job("J-LIFT", EAST, skills=["lift"]), job("J-GAS", EAST, skills=["gas"])],
    )
    net = Network.build(problem)

    home = _nearest_parts(net, eligibility(net), RoutesState.empty(net), [(0,)])

    assert home == {}


def test_each_round_of_a_day_in_parts_cuts_it_somewhere_new() -> None:
    """Two parts of 40 technicians: every round's parts cover everybody once, in new cuts."""
    order = list(range(40))

    rounds = [split(order, 2, turn) for turn in range(PART_ROUNDS)]

    for parts in rounds:
        assert sorted(t for part in parts for t in part) == order
        assert [len(part) for part in parts] == [20, 20]
    assert len({frozenset(map(frozenset, parts)) for parts in rounds}) == PART_ROUNDS

"""Re-timing a route whose order a dispatcher chose: the engine's own schedule, or the reason."""

from __future__ import annotations

import pytest

from optimizer import Route, Solution, Stop, StopKind, check, retime_route
from tests.optimizer.conftest import (
    DEPOT,
    EAST,
    NORTH,
    SOUTH,
    WEST,
    Solved,
    at,
    day,
    job,
    technician,
    warehouse,
)

NOBODY_ELSE = Solution((), ())


def order(technician_id: str, *stops: tuple[StopKind, str]) -> Route:
    """A route to re-time: only the order of its stops counts."""
    return Route(technician_id, 0, 0, tuple(Stop(kind, ident, 0, 0, 0) for kind, ident in stops))


def jobs(technician_id: str, *job_ids: str) -> Route:
    return order(technician_id, *((StopKind.JOB, j) for j in job_ids))


@pytest.mark.parametrize("solved", ["oslo", "stockholm"])
def test_the_engines_routes_come_back_as_the_engine_timed_them(
    solved: str, request: pytest.FixtureRequest
) -> None:
    """Every route of a solved day, stripped of its times, is timed to the very same route."""
    found: Solved = request.getfixturevalue(solved)
    for route in found.solution.routes:
        stripped = order(route.technician, *((s.kind, s.id) for s in route.stops))
        assert retime_route(found.problem, found.solution, stripped) == route


def test_waits_for_a_window_and_places_the_break() -> None:
    """A job opening at 13:00 starts then, not on arrival; the lunch break fits in between."""
    problem = day(
        [technician("T1", lunch=("11:30", "13:00", 30))],
        [job("early", NORTH), job("late", SOUTH, span=("13:00", "15:00"))],
    )
    route = retime_route(problem, NOBODY_ELSE, jobs("T1", "early", "late"))
    late = next(s for s in route.stops if s.id == "late")
    assert late.start == at("13:00") and late.arrival < late.start
    assert [s.kind for s in route.stops].count(StopKind.BREAK) == 1
    assert check(problem, Solution((route,), ())).feasible


def test_parts_the_van_lacks_are_picked_up_where_stock_is_left() -> None:
    """The nearer warehouse's only pump is another route's, so the call goes to the other."""
    problem = day(
        [technician("T1"), technician("T2", home=EAST)],
        [job("fix", NORTH, parts={"PUMP": 1}), job("other", EAST, parts={"PUMP": 1})],
        [
            warehouse("NEAR", NORTH, stock={"PUMP": 1}),
            warehouse("FAR", SOUTH, stock={"PUMP": 2}),
        ],
    )
    others = Solution(
        (
            retime_route(
                problem,
                NOBODY_ELSE,
                order("T2", (StopKind.WAREHOUSE, "NEAR"), (StopKind.JOB, "other")),
            ),
        ),
        (),
    )
    route = retime_route(problem, others, jobs("T1", "fix"))
    call = route.stops[0]
    assert (call.kind, call.id, dict(call.pickup)) == (StopKind.WAREHOUSE, "FAR", {"PUMP": 1})
    assert check(problem, Solution((*others.routes, route), ())).feasible
    alone = retime_route(problem, NOBODY_ELSE, jobs("T1", "fix"))
    assert alone.stops[0].id == "NEAR"


def test_a_call_that_picks_nothing_up_is_dropped() -> None:
    """The van holds the pump, so the call the order names has nothing to pick up."""
    problem = day(
        [technician("T1", van={"PUMP": 1})],
        [job("fix", NORTH, parts={"PUMP": 1})],
        [warehouse("WH", DEPOT, stock={"PUMP": 5})],
    )
    route = retime_route(
        problem, NOBODY_ELSE, order("T1", (StopKind.WAREHOUSE, "WH"), (StopKind.JOB, "fix"))
    )
    assert [(s.kind, s.id) for s in route.stops] == [(StopKind.JOB, "fix")]


@pytest.mark.parametrize(
    ("problem_jobs", "words"),
    [
        (
            [job("first", NORTH, 240), job("tight", SOUTH, span=("08:00", "10:00"))],
            "Job tight could start at 12:",
        ),
        ([job("evening", WEST, span=("18:00", "19:00"))], "T1 would be back at 18:"),
        ([job("long", NORTH, 470)], "after the shift ends at 16:00"),
    ],
)
def test_an_order_that_cannot_be_timed_is_refused_with_the_reason(
    problem_jobs: list,
    words: str,  # type: ignore[type-arg]
) -> None:
    problem = day([technician("T1")], problem_jobs)
    with pytest.raises(ValueError, match=words):
        retime_route(problem, NOBODY_ELSE, jobs("T1", *(j.id for j in problem_jobs)))


def test_a_break_with_no_room_is_named() -> None:
    """Two jobs fill 11:00-14:00 back to back: the 11:30-13:00 lunch has nowhere to go."""
    problem = day(
        [technician("T1", lunch=("11:30", "13:00", 30))],
        [
            job("a", NORTH, 90, span=("11:00", "11:00")),
            job("b", NORTH, 90, span=("12:30", "12:30")),
        ],
    )
    with pytest.raises(ValueError, match="30-minute break finds no room between 11:30 and 13:00"):
        retime_route(problem, NOBODY_ELSE, jobs("T1", "a", "b"))


def test_a_part_nowhere_left_is_named() -> None:
    problem = day(
        [technician("T1")],
        [job("fix", NORTH, parts={"PUMP": 2})],
        [warehouse("WH", DEPOT, stock={"PUMP": 1})],
    )
    with pytest.raises(ValueError, match="not enough PUMP for job fix"):
        retime_route(problem, NOBODY_ELSE, jobs("T1", "fix"))


def test_unknown_ids_are_refused() -> None:
    problem = day([technician("T1")], [job("a")])
    with pytest.raises(ValueError, match="T9 is not one of the day's technicians"):
        retime_route(problem, NOBODY_ELSE, jobs("T9", "a"))
    with pytest.raises(ValueError, match="job nope is not one of the day's"):
        retime_route(problem, NOBODY_ELSE, jobs("T1", "nope"))

"""``solve``: valid plans on the shipped days, reasons for what is left out, parts, breaks, pins,
re-planning, determinism and progress reports.

Every plan is judged by the independent checker (``optimizer.check``), never by the engine's
own figures; hand-built days are small enough that the expected answer follows from the setup.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest
from geopy.distance import geodesic

from optimizer.check import check
from optimizer.problem import Location, Priority, Problem, TimeWindow
from optimizer.solution import Reason, Solution, StopKind
from optimizer.solve import SolveParams, solve
from tests.optimizer.conftest import (
    CENTRE,
    CIRCUITY,
    DEPOT,
    EAST,
    HOME_EAST,
    HOME_WEST,
    NORTH,
    SOUTH,
    SPEED_KMH,
    WEST,
    Solved,
    assert_sound,
    at,
    day,
    job,
    left_out,
    plan,
    served_by,
    technician,
    warehouse,
)

LUNCH = ("11:30", "13:00", 30)


def drive_seconds(a: Location, b: Location) -> float:
    """FORMAT.md's travel rule by geopy, apart from the engine's own Vincenty."""
    return geodesic((a.lat, a.lon), (b.lat, b.lon)).km * CIRCUITY / SPEED_KMH * 3600


def two_technicians(**second: object) -> tuple:
    """T-1 (hvac, electrical) in the west and T-2 (plumbing, hvac) in the east, both with lunch."""
    first = technician("T-1", {"hvac", "electrical"}, home=HOME_WEST, lunch=LUNCH)
    options = {"home": HOME_EAST, "lunch": LUNCH} | second
    return first, technician("T-2", {"plumbing", "hvac"}, **options)  # type: ignore[arg-type]


# --- the shipped days -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["oslo", "stockholm", "c101"])
def test_shipped_days_get_plans_the_checker_accepts(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Each shipped day's plan breaks no hard rule and places every job once, with reasons."""
    solved: Solved = request.getfixturevalue(name)

    report = assert_sound(solved.problem, solved.solution)

    assert report.score is not None
    assert solved.solution.routes


def test_c101_serves_every_customer(c101: Solved) -> None:
    """C101 can be served whole with its 25 vehicles, so no customer is left out."""
    assert c101.solution.unassigned == ()
    assert len(served_by(c101.solution)) == len(c101.problem.jobs) == 100


@pytest.mark.parametrize("name", ["oslo", "stockholm"])
def test_scenario_jobs_nobody_is_skilled_for_say_so(
    name: str, request: pytest.FixtureRequest
) -> None:
    """An unpinned job nobody has all the skills for is left out as NO_SKILLED_TECHNICIAN."""
    solved: Solved = request.getfixturevalue(name)
    problem = solved.problem
    hopeless = [
        j
        for j in problem.jobs
        if j.pinned_to is None and not any(j.skills <= t.skills for t in problem.technicians)
    ]
    assert hopeless  # the day has such jobs
    held = set().union(*(t.skills for t in problem.technicians))

    reasons = left_out(solved.solution)

    for one in hopeless:
        assert reasons[one.id].code == Reason.NO_SKILLED_TECHNICIAN
        for skill in one.skills - held:
            assert repr(skill) in reasons[one.id].reason


# --- why a job is left out ---------------------------------------------------------------


def test_skill_nobody_has_is_named() -> None:
    """A job needing a skill no technician holds is NO_SKILLED_TECHNICIAN, naming the skill."""
    problem = day(two_technicians(), [job("J-LIFT", NORTH, skills={"lift"}), job("J-OK", CENTRE)])

    solution = plan(problem)

    assert_sound(problem, solution)
    item = left_out(solution)["J-LIFT"]
    assert item.code == Reason.NO_SKILLED_TECHNICIAN
    assert "lift" in item.reason
    assert "J-OK" in served_by(solution)


def test_pinned_to_a_technician_lacking_the_skill() -> None:
    """A job pinned to one without its skill is PINNED_TECHNICIAN_UNAVAILABLE (T-1 has it)."""
    problem = day(two_technicians(), [job("J-1", CENTRE, skills={"electrical"}, pinned="T-2")])

    solution = plan(problem)

    assert_sound(problem, solution)
    item = left_out(solution)["J-1"]
    assert item.code == Reason.PINNED_TECHNICIAN_UNAVAILABLE
    assert "T-2" in item.reason


def test_pinned_to_a_technician_whose_shift_misses_the_window() -> None:
    """A morning job pinned to an afternoon technician is PINNED_TECHNICIAN_UNAVAILABLE."""
    problem = day(
        two_technicians(shift=("12:00", "16:00"), lunch=("12:30", "14:00", 30)),
        [job("J-1", SOUTH, span=("08:00", "10:00"), pinned="T-2")],
    )

    solution = plan(problem)

    assert_sound(problem, solution)
    assert left_out(solution)["J-1"].code == Reason.PINNED_TECHNICIAN_UNAVAILABLE


def test_window_outside_every_shift() -> None:
    """A job whose window lies after every shift is WINDOW_OUTSIDE_SHIFTS."""
    problem = day(two_technicians(), [job("J-1", EAST, span=("18:00", "19:00"))])

    solution = plan(problem)

    assert_sound(problem, solution)
    assert left_out(solution)["J-1"].code == Reason.WINDOW_OUTSIDE_SHIFTS
    assert solution.routes == ()


def test_part_in_no_van_and_no_warehouse_is_named() -> None:
    """A job needing a part no van or warehouse holds is PARTS_UNAVAILABLE, naming the part."""
    first, second = two_technicians(van={"FLT-2020": 3})
    problem = day(
        (first, second),
        [job("J-1", WEST, parts={"GAS-VLV-15": 1}), job("J-2", CENTRE, parts={"FLT-2020": 1})],
        [warehouse(stock={"FLT-2020": 5, "BELT-WM": 2})],
    )

    solution = plan(problem)

    assert_sound(problem, solution)
    item = left_out(solution)["J-1"]
    assert item.code == Reason.PARTS_UNAVAILABLE
    assert "GAS-VLV-15" in item.reason
    assert "J-2" in served_by(solution)


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_more_work_than_time_leaves_out_the_low_priority_jobs(seconds: float) -> None:
    """With room for four of six three-hour jobs, the emergency and high ones are served.

    The two low jobs are left out as NOT_ENOUGH_TIME, the reason pointing at higher-priority work.
    """
    jobs = [
        job("J-L1", NORTH, 180, Priority.LOW),
        job("J-L2", SOUTH, 180, Priority.LOW),
        job("J-E1", CENTRE, 180, Priority.EMERGENCY),
        job("J-E2", EAST, 180, Priority.EMERGENCY),
        job("J-H1", WEST, 180, Priority.HIGH),
        job("J-H2", DEPOT, 180, Priority.HIGH),
    ]
    problem = day(two_technicians(), jobs)
    # Three three-hour jobs and a half-hour lunch overrun an eight-hour shift: two each at most.

    solution = plan(problem, seconds)

    assert_sound(problem, solution)
    assert set(served_by(solution)) == {"J-E1", "J-E2", "J-H1", "J-H2"}
    for job_id in ("J-L1", "J-L2"):
        item = left_out(solution)[job_id]
        assert item.code == Reason.NOT_ENOUGH_TIME
        assert "higher priority" in item.reason


# --- parts --------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_part_only_in_a_warehouse_is_picked_up_first(seconds: float) -> None:
    """A job whose part only the warehouse holds follows a pickup of it, within opening hours."""
    problem = day(
        [technician("T-1", lunch=LUNCH)],
        [job("J-1", NORTH, parts={"FLT-2020": 1}), job("J-2", WEST)],
        [warehouse(stock={"FLT-2020": 1}, hours=("09:30", "10:30"))],
    )

    solution = plan(problem, seconds)

    assert_sound(problem, solution)
    (route,) = solution.routes
    kinds = [(stop.kind, stop.id) for stop in route.stops if stop.kind != StopKind.BREAK]
    served = kinds.index((StopKind.JOB, "J-1"))
    calls = [i for i, (kind, _) in enumerate(kinds) if kind == StopKind.WAREHOUSE]
    assert calls and calls[0] < served
    stops = [stop for stop in route.stops if stop.kind != StopKind.BREAK]
    call = stops[calls[0]]
    assert call.pickup.get("FLT-2020", 0) >= 1
    assert at("09:30") <= call.start and call.end <= at("10:30")
    assert call.end - call.start == 600


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_warehouse_stock_for_one_job_serves_one(seconds: float) -> None:
    """Two jobs need the warehouse's only filter and no van has one: exactly one is served."""
    problem = day(
        two_technicians(),
        [job("J-1", NORTH, parts={"FLT-2020": 1}), job("J-2", SOUTH, parts={"FLT-2020": 1})],
        [warehouse(stock={"FLT-2020": 1})],
    )

    solution = plan(problem, seconds)

    assert_sound(problem, solution)
    assert len(served_by(solution)) == 1
    picked = sum(
        stop.pickup.get("FLT-2020", 0)
        for route in solution.routes
        for stop in route.stops
        if stop.kind == StopKind.WAREHOUSE
    )
    assert picked == 1


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_warehouse_stock_for_one_and_a_van_with_one_serves_both(seconds: float) -> None:
    """With one filter in the warehouse and one in T-2's van, both jobs are served."""
    problem = day(
        two_technicians(van={"FLT-2020": 1}),
        [job("J-1", NORTH, parts={"FLT-2020": 1}), job("J-2", SOUTH, parts={"FLT-2020": 1})],
        [warehouse(stock={"FLT-2020": 1})],
    )

    solution = plan(problem, seconds)

    report = assert_sound(problem, solution)
    assert set(served_by(solution)) == {"J-1", "J-2"}
    assert report.unassigned_penalty == 0


def test_parts_from_the_van_and_a_warehouse_together_serve_the_job() -> None:
    """A job needing two filters is served when the van holds one and the warehouse the other."""
    problem = day(
        [technician("T-1", van={"FLT-2020": 1})],
        [job("J-1", NORTH, parts={"FLT-2020": 2})],
        [warehouse(stock={"FLT-2020": 1})],
    )

    solution = plan(problem)

    assert_sound(problem, solution)
    assert served_by(solution) == {"J-1": "T-1"}


def test_job_left_out_for_want_of_stock_says_so() -> None:
    """When the only filter went to the other job, the job left out is PARTS_UNAVAILABLE."""
    problem = day(
        two_technicians(),
        [job("J-1", NORTH, parts={"FLT-2020": 1}), job("J-2", SOUTH, parts={"FLT-2020": 1})],
        [warehouse(stock={"FLT-2020": 1})],
    )

    solution = plan(problem)

    assert_sound(problem, solution)
    (item,) = solution.unassigned
    assert item.code == Reason.PARTS_UNAVAILABLE


# --- breaks -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["oslo", "stockholm"])
def test_every_working_technician_with_a_break_rule_takes_one_break(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Each non-empty route of a technician with a break rule has one break, inside its window."""
    solved: Solved = request.getfixturevalue(name)
    with_rule = [t for t in solved.problem.technicians if t.break_rule is not None]
    assert with_rule

    for route in solved.solution.routes:
        rule = solved.problem.technician(route.technician).break_rule
        if rule is None or not route.stops:
            continue
        breaks = [stop for stop in route.stops if stop.kind == StopKind.BREAK]
        assert len(breaks) == 1, route.technician
        assert breaks[0].start in rule.window
        assert breaks[0].end - breaks[0].start == rule.duration


def test_break_sits_between_stops_without_overlap() -> None:
    """On a busy day the break starts in its window and overlaps no job, and the shift holds it."""
    jobs = [job(f"J-{n}", place, 60) for n, place in enumerate([NORTH, CENTRE, EAST, SOUTH, WEST])]
    problem = day([technician("T-1", lunch=("11:00", "12:00", 45))], jobs)

    solution = plan(problem)

    assert_sound(problem, solution)
    (route,) = solution.routes
    (lunch,) = [stop for stop in route.stops if stop.kind == StopKind.BREAK]
    assert at("11:00") <= lunch.start <= at("12:00")
    assert lunch.end - lunch.start == 45 * 60
    for stop in route.stops:
        if stop.kind == StopKind.JOB:
            assert stop.end <= lunch.start or stop.start >= lunch.end
    assert route.depart >= at("08:00") and route.return_ <= at("16:00")


# --- pins and jobs under way ----------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_pinned_job_goes_to_its_technician(seconds: float) -> None:
    """A job pinned to T-2 is served by T-2 though it sits on T-1's doorstep."""
    problem = day(
        two_technicians(),
        [job("J-P", HOME_WEST, pinned="T-2"), job("J-X", NORTH), job("J-Y", WEST)],
    )

    solution = plan(problem, seconds)

    assert_sound(problem, solution)
    assert served_by(solution)["J-P"] == "T-2"


def fixed_day() -> Problem:
    """T-1 drives west to east, but is already committed to the far job before the near one."""
    west_to_east = technician(
        "T-1", home=HOME_WEST, end=HOME_EAST, lunch=LUNCH, fixed=("J-FAR", "J-NEAR")
    )
    other = technician("T-2", home=HOME_EAST, lunch=LUNCH)
    jobs = [job("J-NEAR", WEST), job("J-FAR", EAST), job("J-Z", NORTH)]
    return day([west_to_east, other], jobs)


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_fixed_jobs_open_the_route_in_their_order(seconds: float) -> None:
    """Jobs under way open their technician's route in order, though the reverse is shorter."""
    problem = fixed_day()
    near, far = problem.job("J-NEAR").location, problem.job("J-FAR").location
    given = (
        drive_seconds(HOME_WEST, far) + drive_seconds(far, near) + drive_seconds(near, HOME_EAST)
    )
    reverse = (
        drive_seconds(HOME_WEST, near) + drive_seconds(near, far) + drive_seconds(far, HOME_EAST)
    )
    assert reverse < given - 600  # the given order costs at least ten minutes more

    solution = plan(problem, seconds)

    assert_sound(problem, solution)
    route = solution.route_of("T-1")
    assert route is not None
    assert route.job_ids[:2] == ("J-FAR", "J-NEAR")
    located = [stop for stop in route.stops if stop.kind != StopKind.BREAK]
    assert [(s.kind, s.id) for s in located[:2]] == [
        (StopKind.JOB, "J-FAR"),
        (StopKind.JOB, "J-NEAR"),
    ]


def test_jobs_under_way_on_a_shipped_day_survive_the_search(oslo: Solved) -> None:
    """On oslo-5x30 with two jobs under way, one second of search keeps them first, once each.

    OR-Tools' model does not know jobs under way: a group's routes that did not open with
    them once kept the old route beside the new ones, visiting the jobs they share twice.
    """
    t01 = oslo.problem.technician("T-01")
    problem = replace(
        oslo.problem,
        technicians=tuple(
            replace(t, fixed_jobs=("J-0019", "J-0014")) if t is t01 else t
            for t in oslo.problem.technicians
        ),
    )

    solution = plan(problem, 1.0, workers=1)

    assert_sound(problem, solution)
    route = solution.route_of("T-01")
    assert route is not None and route.job_ids[:2] == ("J-0019", "J-0014")


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_work_under_way_that_the_day_cannot_fit_is_reported_not_dropped(seconds: float) -> None:
    """A job under way whose window closed before the shift starts cannot be timed: such a
    day has no plan keeping every rule. The work is listed as unassigned with the reason,
    never lost, and the checker names the one rule broken."""
    problem = fixed_day()
    closed = replace(problem.job("J-FAR"), window=TimeWindow(0, 60))
    problem = replace(problem, jobs=tuple(closed if j.id == "J-FAR" else j for j in problem.jobs))

    solution = plan(problem, seconds)

    causes = {v.cause for v in check(problem, solution).violations}
    assert causes == {"fixed_jobs"}
    stuck = {u.job: u.reason for u in solution.unassigned}
    assert "under way" in stuck["J-FAR"] and "under way" in stuck["J-NEAR"]
    assert {u.job for u in solution.unassigned} | {
        j for r in solution.routes for j in r.job_ids
    } == {j.id for j in problem.jobs}


# --- re-planning and determinism -------------------------------------------------------------


def route_orders(solution: Solution) -> dict[str, tuple[str, ...]]:
    return {route.technician: route.job_ids for route in solution.routes}


@pytest.mark.parametrize("name", ["oslo", "stockholm", "c101"])
def test_replanning_from_a_plan_keeps_it_or_does_better(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Re-planning from the searched plan without search scores no worse and keeps its routes."""
    solved: Solved = request.getfixturevalue(name)
    before = check(solved.problem, solved.solution).score
    assert before is not None

    again = plan(solved.problem, 0.0, initial=solved.solution)

    report = assert_sound(solved.problem, again)
    assert report.score is not None
    assert report.score <= before + 1e-6
    kept = route_orders(again)
    for technician_id, jobs in route_orders(solved.solution).items():
        assert kept[technician_id][: len(jobs)] == jobs


def test_replanning_after_an_emergency_arrives_serves_it() -> None:
    """A new emergency is served when re-planning from the morning's plan, which stays valid."""
    jobs = [job(f"J-{n}", place, 45) for n, place in enumerate([NORTH, CENTRE, SOUTH, WEST])]
    morning = day(two_technicians(), jobs)
    first = plan(morning)
    urgent = job("J-URGENT", EAST, 60, Priority.EMERGENCY, span=("13:00", "15:00"))
    afternoon = replace(morning, jobs=(*morning.jobs, urgent))

    again = plan(afternoon, 0.0, initial=first)

    assert_sound(afternoon, again)
    assert "J-URGENT" in served_by(again)
    assert set(served_by(first)) <= set(served_by(again))


@pytest.mark.parametrize("name", ["oslo", "stockholm", "c101"])
def test_search_never_worsens_the_constructed_plan(
    name: str, request: pytest.FixtureRequest
) -> None:
    """The searched plan scores no worse than the construction alone, by the checker's score."""
    solved: Solved = request.getfixturevalue(name)
    constructed = plan(solved.problem, 0.0)

    searched = check(solved.problem, solved.solution).score
    baseline = check(solved.problem, constructed).score
    assert searched is not None and baseline is not None

    rounding = (legs(constructed) + legs(solved.solution)) * 0.5 / solved.problem.ticks_per_minute
    assert searched <= baseline + rounding


@pytest.mark.parametrize("name", ["oslo", "stockholm", "c101"])
def test_construction_alone_is_deterministic(name: str, request: pytest.FixtureRequest) -> None:
    """With no search time, two solves of the same day give identical plans."""
    problem = request.getfixturevalue(name).problem

    first = solve(problem, SolveParams(time_limit_s=0))
    second = solve(problem, SolveParams(time_limit_s=0))

    assert first == second
    assert_sound(problem, first)


# --- progress reports --------------------------------------------------------------------------


def legs(solution: Solution) -> int:
    """Legs driven in a plan: one into each located stop and one home per route."""
    return sum(
        1 + sum(1 for stop in route.stops if stop.kind != StopKind.BREAK)
        for route in solution.routes
    )


@pytest.mark.parametrize("name", ["oslo", "stockholm", "c101"])
def test_progress_is_reported_and_ends_on_the_plans_score(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Progress comes at least once, time never runs back, and the last score is the plan's.

    The engine rounds each leg to a whole tick, so the last reported score may differ from
    the checker's by at most half a tick per leg.
    """
    solved: Solved = request.getfixturevalue(name)
    problem = solved.problem
    assert solved.progress

    elapsed = [report[2] for report in solved.progress]
    assert all(0 <= a <= b for a, b in pairwise(elapsed))
    assert all(0 <= report[1] <= len(problem.jobs) for report in solved.progress)
    final_score, final_served, _ = solved.progress[-1]
    assert final_served == len(served_by(solved.solution))
    rounding = legs(solved.solution) * 0.5 / problem.ticks_per_minute
    assert final_score == pytest.approx(check(problem, solved.solution).score, abs=rounding + 1e-6)


def test_construction_alone_reports_once() -> None:
    """With no search time the callback hears exactly one report: the constructed plan's score."""
    problem = day(two_technicians(), [job("J-1", NORTH), job("J-2", SOUTH, priority=Priority.LOW)])
    heard: list[tuple[float, int, float]] = []

    solution = plan(problem, on_progress=lambda *report: heard.append(report))

    assert len(heard) == 1
    score, served, elapsed = heard[0]
    assert served == 2 and elapsed >= 0
    assert score == pytest.approx(check(problem, solution).score, abs=legs(solution) * 0.5 / 60)


def test_reported_scores_never_increase(oslo: Solved) -> None:
    """Each report is the best whole-plan score so far: the sequence never goes up."""
    scores = [report[0] for report in oslo.progress]

    assert all(b <= a + 1e-9 for a, b in pairwise(scores)), scores

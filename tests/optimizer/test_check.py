"""The plan checker: FORMAT.md's hard rules, its tolerance, its score and the plan document."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from geopy.distance import geodesic
from numpy.typing import NDArray

from optimizer.check import check, check_plan_document
from optimizer.io import solomon_problem
from optimizer.plan_io import plan_document
from optimizer.problem import (
    Break,
    Job,
    Location,
    Priority,
    Problem,
    Technician,
    TimeWindow,
    Warehouse,
)
from optimizer.solution import Reason, Route, Solution, Stop, StopKind, Unassigned
from optimizer.travel import GeodesicTravel

SOLOMON = Path(__file__).parents[1] / "data" / "solomon"
SPEED_KMH, CIRCUITY = 32.0, 1.35


def at(clock: str) -> int:
    """Seconds since midnight of a "HH:MM" time, the ticks of a service day."""
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def drive_seconds(a: Location, b: Location) -> float:
    """FORMAT.md's travel rule, computed here apart from the checker."""
    return geodesic((a.lat, a.lon), (b.lat, b.lon)).km * CIRCUITY / SPEED_KMH * 3600


def oslo_day() -> Problem:
    """Two technicians, five jobs, one warehouse, breaks, parts, a pin and a job under way."""
    warehouse = Warehouse(
        "WH-1",
        Location(59.91, 10.75),
        TimeWindow(at("07:00"), at("17:00")),
        600,
        {"FLT": 3, "BELT": 2},
    )
    technicians = (
        Technician(
            "T-1",
            Location(59.93, 10.71),
            Location(59.93, 10.71),
            TimeWindow(at("08:00"), at("16:00")),
            frozenset({"hvac", "electrical"}),
            Break(TimeWindow(at("11:30"), at("13:00")), 1800),
            {"FLT": 1},
            fixed_jobs=("J-2",),
        ),
        Technician(
            "T-2",
            Location(59.90, 10.80),
            Location(59.90, 10.80),
            TimeWindow(at("08:00"), at("16:00")),
            frozenset({"plumbing", "hvac"}),
            Break(TimeWindow(at("12:00"), at("13:30")), 1800),
            capacity=10,
        ),
    )
    jobs = (
        Job(
            "J-1",
            Location(59.95, 10.78),
            2700,
            Priority.HIGH,
            frozenset({"hvac"}),
            TimeWindow(at("09:00"), at("12:00")),
            sla_due=at("14:00"),
            parts={"FLT": 1},
        ),
        Job(
            "J-2", Location(59.94, 10.74), 1800, skills=frozenset({"electrical"}), parts={"FLT": 1}
        ),
        Job(
            "J-3",
            Location(59.92, 10.79),
            3600,
            Priority.EMERGENCY,
            frozenset({"plumbing"}),
            pinned_to="T-2",
            demand=4,
        ),
        Job(
            "J-4",
            Location(59.89, 10.77),
            2400,
            skills=frozenset({"hvac"}),
            sla_due=at("08:30"),
            parts={"FLT": 1},
            demand=3,
        ),
        Job("J-5", Location(60.10, 11.20), 1200, Priority.LOW),
    )
    return Problem(
        "oslo-test",
        GeodesicTravel(SPEED_KMH, CIRCUITY),
        technicians,
        jobs,
        (warehouse,),
        date="2026-11-24",
        timezone="Europe/Oslo",
    )


def lay_out(problem: Problem, technician_id: str, visits: list[tuple[Any, ...]]) -> Route:
    """A route leaving at the shift start, each stop as early as travel and windows allow.

    Visits are ("job", id), ("warehouse", id, pickup) or ("break",); legs are rounded up
    to whole seconds so that none is short.
    """
    technician = problem.technician(technician_id)
    here, now = technician.start, technician.shift.start
    stops = []
    for visit in visits:
        if visit[0] == "break":
            rule = technician.break_rule
            assert rule is not None, f"test route gives {technician_id} a break it has not"
            start = max(now, rule.window.start)
            stops.append(Stop(StopKind.BREAK, "", start, start, start + rule.duration))
            now = start + rule.duration
            continue
        if visit[0] == "job":
            job = problem.job(visit[1])
            place, opens, service, pickup = job.location, job.window, job.service, {}
        else:
            warehouse = problem.warehouse(visit[1])
            place, opens, service, pickup = (
                warehouse.location,
                warehouse.hours,
                warehouse.pickup_service,
                visit[2],
            )
        arrival = now + math.ceil(drive_seconds(here, place))
        start = max(arrival, opens.start) if opens else arrival
        stops.append(Stop(StopKind(visit[0]), visit[1], arrival, start, start + service, pickup))
        here, now = place, start + service
    back = now + math.ceil(drive_seconds(here, technician.end))
    return Route(technician_id, technician.shift.start, back, tuple(stops))


def valid_plan(problem: Problem) -> Solution:
    """A plan keeping every rule of ``oslo_day``: J-5, far out of town, is left out."""
    return Solution(
        routes=(
            lay_out(
                problem,
                "T-1",
                [("job", "J-2"), ("warehouse", "WH-1", {"FLT": 1}), ("job", "J-1"), ("break",)],
            ),
            lay_out(
                problem,
                "T-2",
                [("warehouse", "WH-1", {"FLT": 1}), ("job", "J-3"), ("break",), ("job", "J-4")],
            ),
        ),
        unassigned=(Unassigned("J-5", Reason.NOT_ENOUGH_TIME, "Too far out for today's shifts."),),
    )


def leg_minutes(problem: Problem, route: Route) -> float:
    """Minutes of travel along a route (start, located stops, end), by geopy."""
    technician = problem.technician(route.technician)
    places = [technician.start]
    for stop in route.stops:
        if stop.kind == StopKind.JOB:
            places.append(problem.job(stop.id).location)
        elif stop.kind == StopKind.WAREHOUSE:
            places.append(problem.warehouse(stop.id).location)
    places.append(technician.end)
    return sum(drive_seconds(a, b) / 60 for a, b in pairwise(places))


# --- editing a day or a plan in one place -------------------------------------------


def with_job(problem: Problem, job_id: str, **changes: Any) -> Problem:
    jobs = tuple(replace(j, **changes) if j.id == job_id else j for j in problem.jobs)
    return replace(problem, jobs=jobs)


def with_technician(problem: Problem, technician_id: str, **changes: Any) -> Problem:
    technicians = tuple(
        replace(t, **changes) if t.id == technician_id else t for t in problem.technicians
    )
    return replace(problem, technicians=technicians)


def with_warehouse(problem: Problem, **changes: Any) -> Problem:
    return replace(problem, warehouses=(replace(problem.warehouses[0], **changes),))


def with_route(solution: Solution, technician_id: str, **changes: Any) -> Solution:
    routes = tuple(
        replace(r, **changes) if r.technician == technician_id else r for r in solution.routes
    )
    return replace(solution, routes=routes)


def route_of(solution: Solution, technician_id: str) -> Route:
    """The technician's route, which the test's plan has."""
    route = solution.route_of(technician_id)
    assert route is not None, f"the plan has no route for {technician_id}"
    return route


def with_stop(solution: Solution, technician_id: str, index: int, **changes: Any) -> Solution:
    stops = list(route_of(solution, technician_id).stops)
    stops[index] = replace(stops[index], **changes)
    return with_route(solution, technician_id, stops=tuple(stops))


def without_stop(solution: Solution, technician_id: str, index: int) -> Solution:
    stops = list(route_of(solution, technician_id).stops)
    del stops[index]
    return with_route(solution, technician_id, stops=tuple(stops))


def stop_of(solution: Solution, technician_id: str, index: int) -> Stop:
    return route_of(solution, technician_id).stops[index]


def causes(problem: Problem, solution: Solution, **options: Any) -> set[str]:
    return {v.cause for v in check(problem, solution, **options).violations}


# --- the valid plan -----------------------------------------------------------------


def test_valid_plan_has_no_violations_and_scores_by_format() -> None:
    """A plan keeping every rule is feasible and scores travel + penalties + 2 x lateness."""
    problem = oslo_day()
    plan = valid_plan(problem)

    report = check(problem, plan)

    assert report.violations == ()
    assert report.feasible
    travel = sum(leg_minutes(problem, route) for route in plan.routes)
    late = (stop_of(plan, "T-2", 3).end - at("08:30")) / 60
    assert late > 0
    assert report.travel_minutes == pytest.approx(travel, rel=1e-12)
    assert report.late_minutes == late
    assert report.unassigned_penalty == 200
    assert report.score == pytest.approx(travel + 200 + 2 * late, rel=1e-12)
    assert dict(report.served) == {
        Priority.EMERGENCY: 1,
        Priority.HIGH: 1,
        Priority.NORMAL: 2,
        Priority.LOW: 0,
    }
    assert dict(report.unserved) == {
        Priority.EMERGENCY: 0,
        Priority.HIGH: 0,
        Priority.NORMAL: 0,
        Priority.LOW: 1,
    }


# --- one broken rule at a time ------------------------------------------------------

Edit = Callable[[Problem, Solution], tuple[Problem, Solution]]


def add_unassigned(job_id: str) -> Edit:
    item = Unassigned(job_id, Reason.NOT_ENOUGH_TIME, "No time left.")
    return lambda p, s: (p, replace(s, unassigned=(*s.unassigned, item)))


def shift_stop(technician_id: str, index: int, field: str, seconds: int) -> Edit:
    def edit(p: Problem, s: Solution) -> tuple[Problem, Solution]:
        value = getattr(stop_of(s, technician_id, index), field) + seconds
        return p, with_stop(s, technician_id, index, **{field: value})

    return edit


CASES: list[tuple[str, Edit]] = [
    ("unknown_job", add_unassigned("J-99")),
    ("duplicate_job", add_unassigned("J-3")),
    ("missing_job", lambda p, s: (p, replace(s, unassigned=()))),
    ("reason", lambda p, s: (p, replace(s, unassigned=(replace(s.unassigned[0], reason=" "),)))),
    ("unknown_technician", lambda p, s: (p, with_route(s, "T-2", technician="T-9"))),
    (
        "duplicate_route",
        lambda p, s: (
            p,
            replace(s, routes=(*s.routes, Route("T-2", at("08:00"), at("08:00"), ()))),
        ),
    ),
    (
        "unknown_warehouse",
        lambda p, s: (
            with_technician(p, "T-1", van_stock={"FLT": 2}),
            with_stop(s, "T-1", 1, id="WH-9"),
        ),
    ),
    ("skills", lambda p, s: (with_job(p, "J-2", skills=frozenset({"roofing"})), s)),
    ("pinned", lambda p, s: (with_job(p, "J-1", pinned_to="T-2"), s)),
    ("fixed_jobs", lambda p, s: (with_technician(p, "T-1", fixed_jobs=("J-1",)), s)),
    ("fixed_jobs", lambda p, s: (with_technician(p, "T-1", fixed_jobs=("J-2", "J-1")), s)),
    ("fixed_jobs", lambda p, s: (with_technician(p, "T-2", fixed_jobs=("J-5",)), s)),
    ("window", lambda p, s: (with_job(p, "J-1", window=TimeWindow(at("13:00"), at("14:00"))), s)),
    (
        "shift",
        lambda p, s: (with_technician(p, "T-1", shift=TimeWindow(at("08:30"), at("16:00"))), s),
    ),
    (
        "shift",
        lambda p, s: (with_technician(p, "T-1", shift=TimeWindow(at("08:00"), at("12:00"))), s),
    ),
    (
        "break",
        lambda p, s: (
            p,
            with_stop(s, "T-1", 3, start=at("11:00"), arrival=at("11:00"), end=at("11:30")),
        ),
    ),
    ("break", lambda p, s: (p, without_stop(s, "T-1", 3))),
    ("break", lambda p, s: (with_technician(p, "T-2", break_rule=None), s)),
    ("duration", shift_stop("T-1", 2, "end", -60)),
    ("duration", shift_stop("T-1", 1, "end", -60)),
    ("duration", shift_stop("T-1", 3, "end", -60)),
    ("timing", lambda p, s: (p, with_stop(s, "T-1", 2, arrival=stop_of(s, "T-1", 1).end))),
    ("timing", shift_stop("T-1", 0, "arrival", 60)),
    ("timing", lambda p, s: (p, with_route(s, "T-2", return_=stop_of(s, "T-2", 3).end))),
    ("parts", lambda p, s: (with_technician(p, "T-1", van_stock={}), s)),
    ("parts", lambda p, s: (p, with_stop(s, "T-1", 1, pickup={"FLT": 1, "XYZ": 1}))),
    ("parts", lambda p, s: (p, with_stop(s, "T-1", 1, pickup={"FLT": 1, "BELT": 0}))),
    (
        "warehouse_hours",
        lambda p, s: (with_warehouse(p, hours=TimeWindow(at("09:30"), at("17:00"))), s),
    ),
    ("warehouse_stock", lambda p, s: (with_warehouse(p, stock={"FLT": 1, "BELT": 2}), s)),
    ("capacity", lambda p, s: (with_technician(p, "T-2", capacity=5), s)),
]


@pytest.mark.parametrize(("cause", "edit"), CASES)
def test_each_broken_rule_is_reported_alone(cause: str, edit: Edit) -> None:
    """Breaking one rule of the valid plan yields violations of that cause only, and no score."""
    problem, plan = edit(oslo_day(), valid_plan(oslo_day()))

    report = check(problem, plan)

    assert {v.cause for v in report.violations} == {cause}
    assert report.score is None
    assert not report.feasible
    assert all(v.message.endswith(".") for v in report.violations)


def test_break_taken_in_the_middle_of_a_drive_needs_time_for_both() -> None:
    """A break between two stops leaves room for the drive and the break, not just either."""
    problem = with_technician(
        oslo_day(), "T-2", break_rule=Break(TimeWindow(at("08:00"), at("13:30")), 1800)
    )
    plan = valid_plan(problem)
    left = stop_of(plan, "T-2", 1).end  # J-3 done
    drive = math.ceil(drive_seconds(problem.job("J-3").location, problem.job("J-4").location))
    assert drive >= 360  # so that a break starting a minute after J-3 ends before J-4 starts
    plan = with_stop(plan, "T-2", 2, arrival=left + 60, start=left + 60, end=left + 1860)

    def j4_at(start: int) -> Solution:
        return with_stop(plan, "T-2", 3, arrival=start, start=start, end=start + 2400)

    report = check(problem, j4_at(left + drive + 1800 - 300))

    assert causes(problem, j4_at(left + drive + 1800)) == set()
    assert [(v.cause, v.technician, v.stop) for v in report.violations] == [
        ("timing", "T-2", "J-4")
    ]


# --- tolerance ----------------------------------------------------------------------


def test_a_leg_short_by_less_than_a_minute_passes_and_by_more_fails() -> None:
    """Each leg may be up to one minute short of the travel rule (FORMAT.md), not more."""
    problem = oslo_day()
    plan = valid_plan(problem)
    left = stop_of(plan, "T-1", 0).end
    seconds = drive_seconds(problem.job("J-2").location, problem.warehouse("WH-1").location)

    within = with_stop(plan, "T-1", 1, arrival=left + math.ceil(seconds) - 60)
    beyond = with_stop(plan, "T-1", 1, arrival=left + math.floor(seconds) - 61)

    assert causes(problem, within) == set()
    assert causes(problem, beyond) == {"timing"}


def test_tolerance_is_a_keyword_argument() -> None:
    """With no tolerance, a leg one fraction of a second short of the travel rule fails."""
    problem = oslo_day()
    plan = valid_plan(problem)
    left = stop_of(plan, "T-1", 0).end
    seconds = drive_seconds(problem.job("J-2").location, problem.warehouse("WH-1").location)
    assert seconds % 1 != 0

    exact = with_stop(plan, "T-1", 1, arrival=left + math.ceil(seconds))
    short = with_stop(plan, "T-1", 1, arrival=left + math.floor(seconds))

    assert causes(problem, exact, tolerance=0) == set()
    assert causes(problem, short, tolerance=0) == {"timing"}
    assert causes(problem, short) == set()


# --- parts and stock ----------------------------------------------------------------


def test_warehouse_stock_is_summed_across_routes() -> None:
    """Two vans each picking up the warehouse's only filter together take more than it has."""
    problem = with_warehouse(oslo_day(), stock={"FLT": 1, "BELT": 2})
    plan = valid_plan(problem)
    assert all(stop_of(plan, t, i).pickup == {"FLT": 1} for t, i in (("T-1", 1), ("T-2", 0)))

    report = check(problem, plan)

    assert [(v.cause, v.technician, v.stop) for v in report.violations] == [
        ("warehouse_stock", None, "WH-1")
    ]
    assert "2 of FLT" in report.violations[0].message


def test_van_going_below_zero_is_reported_at_the_job() -> None:
    """A van that picks up the wrong part runs out at the job needing the right one."""
    problem = oslo_day()
    plan = with_stop(valid_plan(problem), "T-1", 1, pickup={"BELT": 1})

    report = check(problem, plan)

    assert [(v.cause, v.technician, v.stop) for v in report.violations] == [
        ("parts", "T-1", "J-1")
    ]


# --- other travel models ------------------------------------------------------------


def solomon_route(problem: Problem, technician_id: str, job_ids: list[str]) -> Route:
    """A Solomon route from the depot at time 0, each job as early as its window allows."""
    depot = problem.technician(technician_id).start
    here, now, stops = depot, 0, []
    for job_id in job_ids:
        job = problem.job(job_id)
        arrival = now + math.ceil(
            math.dist((here.lat, here.lon), (job.location.lat, job.location.lon)) * 1000
        )
        assert job.window is not None, f"test route needs a window on {job_id}"
        start = max(arrival, job.window.start)
        assert start <= job.window.end, f"test route misses the window of {job_id}"
        stops.append(Stop(StopKind.JOB, job_id, arrival, start, start + job.service))
        here, now = job.location, start + job.service
    back = now + math.ceil(math.dist((here.lat, here.lon), (depot.lat, depot.lon)) * 1000)
    return Route(technician_id, 0, back, tuple(stops))


SOLOMON_ROUTES = [
    ["5", "3", "7", "8", "10", "11", "9", "6", "4", "2", "1"],
    ["20", "24", "25"],
    ["13", "17", "18", "19", "15", "16", "14", "12"],
]


def solomon_plan(problem: Problem) -> Solution:
    """Three routes of C101 and every other customer left out."""
    routes = tuple(solomon_route(problem, str(n + 1), ids) for n, ids in enumerate(SOLOMON_ROUTES))
    served = {job_id for ids in SOLOMON_ROUTES for job_id in ids}
    unassigned = tuple(
        Unassigned(j.id, Reason.NOT_ENOUGH_TIME, "Not planned in this test.")
        for j in problem.jobs
        if j.id not in served
    )
    return Solution(routes, unassigned)


def test_solomon_plan_scores_its_euclidean_distance() -> None:
    """A feasible C101 plan's travel is the unrounded Euclidean length of its routes."""
    problem = solomon_problem(SOLOMON / "C101.txt")
    plan = solomon_plan(problem)
    depot = (40.0, 50.0)
    distance = 0.0
    for ids in SOLOMON_ROUTES:
        points = [
            depot,
            *((problem.job(i).location.lat, problem.job(i).location.lon) for i in ids),
            depot,
        ]
        distance += sum(math.dist(a, b) for a, b in pairwise(points))

    report = check(problem, plan)

    assert report.violations == ()
    assert report.travel_minutes == pytest.approx(distance, rel=1e-12)
    assert report.unassigned_penalty == 100_000 * (100 - 22)
    assert report.score == pytest.approx(distance + 100_000 * 78, rel=1e-12)


def test_solomon_capacity_and_window_are_checked() -> None:
    """Joining two full C101 routes overloads the vehicle and misses windows."""
    problem = solomon_problem(SOLOMON / "C101.txt")
    plan = solomon_plan(problem)
    joined = Route(
        "1", 0, problem.technician("1").shift.end, plan.routes[0].stops + plan.routes[2].stops
    )
    plan = replace(plan, routes=(joined, plan.routes[1]))

    assert causes(problem, plan) == {"capacity", "timing"}


class FlatTravel:
    """A travel model the checker cannot recompute: ten minutes between any two points."""

    def matrix(self, points: Sequence[Location]) -> NDArray[np.int64]:
        return np.full((len(points), len(points)), 600, dtype=np.int64)


def test_unknown_travel_model_is_asked_for_each_leg() -> None:
    """With a model of its own, the checker takes each leg's time from the model's matrix."""
    home = Location(0.0, 0.0)
    problem = Problem(
        "flat",
        FlatTravel(),
        (Technician("T-1", home, home, TimeWindow(0, 10_000)),),
        (Job("J-1", Location(1.0, 1.0), 300),),
    )
    on_time = Solution((Route("T-1", 0, 1500, (Stop(StopKind.JOB, "J-1", 600, 600, 900),)),), ())
    too_soon = Solution((Route("T-1", 0, 1500, (Stop(StopKind.JOB, "J-1", 500, 500, 800),)),), ())

    assert check(problem, on_time).travel_minutes == 20.0
    assert causes(problem, on_time) == set()
    assert causes(problem, too_soon) == {"timing"}


# --- plan documents -----------------------------------------------------------------


def test_plan_document_round_trips_to_the_same_report() -> None:
    """Checking the written plan document gives the report of checking the plan itself."""
    problem = oslo_day()
    valid = valid_plan(problem)
    broken = with_stop(valid, "T-1", 2, end=stop_of(valid, "T-1", 2).end - 60)

    for plan in (valid, broken):
        assert check_plan_document(problem, plan_document(problem, plan)) == check(problem, plan)
    assert check(problem, broken).violations


def test_solomon_plan_document_round_trips_without_depart_and_return() -> None:
    """A Solomon plan in numbers, depart and return left out, checks like the plan."""
    problem = solomon_problem(SOLOMON / "C101.txt")
    plan = solomon_plan(problem)
    document = plan_document(problem, plan)
    for route in document["routes"]:
        del route["depart"], route["return"]

    report = check_plan_document(problem, document)

    assert report.violations == ()
    assert report.score == check(problem, plan).score


def test_break_without_arrival_is_read_as_in_format_example() -> None:
    """FORMAT.md's example gives a break only start and end; such a plan reads and passes."""
    problem = oslo_day()
    document = plan_document(problem, valid_plan(problem))
    del document["routes"][0]["stops"][3]["arrival"]

    assert check_plan_document(problem, document).violations == ()


def test_instants_in_another_offset_are_the_same_moment() -> None:
    """An instant written in UTC instead of local time is read as the same local moment."""
    problem = oslo_day()
    document = plan_document(problem, valid_plan(problem))
    for route in document["routes"]:
        for stop in route["stops"]:
            for key in ("arrival", "start", "end"):
                stop[key] = datetime.fromisoformat(stop[key]).astimezone(UTC).isoformat()
    assert document["routes"][0]["stops"][0]["start"].endswith("+00:00")

    assert check_plan_document(problem, document) == check(problem, valid_plan(problem))


def valid_document() -> dict[str, Any]:
    return plan_document(oslo_day(), valid_plan(oslo_day()))


def edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = valid_document()
    change(document)
    return document


MALFORMED: list[Any] = [
    [],
    edited(lambda d: d.update(format="fieldops-plan/2")),
    edited(lambda d: d.update(scenario="another-day")),
    edited(lambda d: d.pop("routes")),
    edited(lambda d: d.pop("unassigned")),
    edited(lambda d: d["routes"][0].pop("technician")),
    edited(lambda d: d["routes"][0].update(depart="08:00")),
    edited(lambda d: d["routes"][0].pop("return")),
    edited(lambda d: d["routes"][0]["stops"][0].update(start="2026-11-24T08:30:00")),
    edited(lambda d: d["routes"][0]["stops"][0].update(arrival=480)),
    edited(lambda d: d["routes"][0]["stops"][0].update(type="lunch")),
    edited(lambda d: d["routes"][0]["stops"][0].pop("id")),
    edited(lambda d: d["routes"][0]["stops"][1].update(pickup={"FLT": "1"})),
    edited(lambda d: d["unassigned"][0].update(code="because")),
    edited(lambda d: d["unassigned"][0].update(reason=None)),
]


@pytest.mark.parametrize("document", MALFORMED)
def test_malformed_documents_are_format_violations(document: Any) -> None:
    """A document that cannot be read is reported as "format" violations, not an exception."""
    report = check_plan_document(oslo_day(), document)

    assert report.violations
    assert {v.cause for v in report.violations} == {"format"}
    assert report.score is None


def test_document_errors_name_the_field() -> None:
    """A format violation says which field is wrong, so the sender can fix it."""
    document = edited(lambda d: d["routes"][1]["stops"][2].update(end="noon"))

    (violation,) = check_plan_document(oslo_day(), document).violations

    assert violation.message.startswith("routes[1].stops[2].end:")
    assert "'noon'" in violation.message

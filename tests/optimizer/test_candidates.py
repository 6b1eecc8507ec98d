"""Emergency insertion: candidates ranked as the checker scores them, each at its best place.

The reference answer is computed apart from ``insertion_candidates``: the new job is put at
every place of every technician's route (with and without a warehouse call just before it),
each version timed on the day's full travel matrix, and every version the independent
checker finds feasible is scored by it.
"""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import pairwise

import pytest

from optimizer import (
    Candidate,
    Job,
    Location,
    Priority,
    Problem,
    Reason,
    Route,
    Solution,
    StopKind,
    Unassigned,
    apply_candidate,
    check,
    insertion_candidates,
    travel_matrix,
    why_no_candidate,
)
from optimizer._network import Network
from optimizer._schedule import evaluate
from optimizer.solve import timed_route
from tests.optimizer.conftest import (
    CENTRE,
    DEPOT,
    EAST,
    HOME_EAST,
    HOME_WEST,
    NORTH,
    SOUTH,
    WEST,
    Solved,
    day,
    job,
    plan,
    technician,
    warehouse,
)

LUNCH = ("11:30", "13:00", 30)
#: Score minutes by which the engine's figures may differ from the checker's: each of the
#: few legs an insertion changes is rounded to a whole second by the engine, not by the checker.
TOLERANCE = 0.1


def with_job(problem: Problem, new: Job) -> Problem:
    return replace(problem, jobs=(*problem.jobs, new))


def unassigned(solution: Solution, job_id: str) -> Solution:
    """The plan before the insertion as the checker scores it: the new job listed as left out."""
    if any(u.job == job_id for u in solution.unassigned):
        return solution
    waiting = Unassigned(job_id, Reason.NOT_ENOUGH_TIME, "just phoned in")
    return replace(solution, unassigned=(*solution.unassigned, waiting))


def with_route(solution: Solution, route: Route) -> Solution:
    others = tuple(r for r in solution.routes if r.technician != route.technician)
    return replace(solution, routes=(*others, route))


def best_scores(problem: Problem, before: Solution, job_id: str) -> dict[str, float]:
    """The checker's best score of the plan with the job in each technician's route.

    Every place is tried, before jobs under way too (the checker must refuse those),
    with no warehouse call or a new one at any warehouse the route does not call at.
    """
    net = Network.build(problem)
    nodes = travel_matrix(problem)
    new = nodes.job[job_id]
    found: dict[str, float] = {}
    for t, tech in enumerate(problem.technicians):
        route = before.route_of(tech.id)
        visits = [
            nodes.job[s.id] if s.kind == StopKind.JOB else nodes.warehouse[s.id]
            for s in (route.stops if route else ())
            if s.kind != StopKind.BREAK
        ]
        calls = [None] + [w for w in nodes.warehouse.values() if w not in visits]
        for position in range(len(visits) + 1):
            for call in calls:
                trial = [*visits[:position], *([call] if call is not None else []), new]
                trial += visits[position:]
                timing = evaluate(net, t, trial)
                if timing is None:
                    continue
                inserted = with_route(before, timed_route(net, t, trial, timing))
                inserted = replace(
                    inserted, unassigned=tuple(u for u in before.unassigned if u.job != job_id)
                )
                report = check(problem, inserted)
                if report.score is not None:
                    found[tech.id] = min(found.get(tech.id, report.score), report.score)
    return found


def assert_figures(problem: Problem, before: Solution, candidate: Candidate) -> float:
    """The candidate's figures agree with its route and the checker; returns the plan's score."""
    after = apply_candidate(before, candidate)
    report, was = check(problem, after), check(problem, before)
    assert report.feasible, [v.message for v in report.violations]
    assert report.score is not None and was.score is not None
    assert candidate.score_change == pytest.approx(report.score - was.score, abs=TOLERANCE)
    minute = problem.ticks_per_minute
    assert candidate.added_travel / minute == pytest.approx(
        report.travel_minutes - was.travel_minutes, abs=TOLERANCE
    )
    late = (candidate.lateness + candidate.added_lateness) / minute
    assert late == pytest.approx(report.late_minutes - was.late_minutes)
    jobs = [s for s in candidate.route.stops if s.kind == StopKind.JOB]
    stop = jobs[candidate.position]
    assert (stop.id, stop.arrival, stop.start, stop.end) == (
        candidate.job,
        candidate.arrival,
        candidate.start,
        candidate.end,
    )
    old = before.route_of(candidate.technician)
    started = {s.id: s.start for s in (old.stops if old else ()) if s.kind == StopKind.JOB}
    assert candidate.delay == sum(
        max(0, s.start - started[s.id]) for s in jobs if s.id != candidate.job
    )
    return report.score


def assert_ranked_as_checked(problem: Problem, before: Solution, job_id: str) -> list[Candidate]:
    """Candidates are exactly the technicians who can take the job, each at their best place,
    in the order of the checker's score of the plan with it."""
    candidates = insertion_candidates(problem, before, job_id, limit=None)
    listed = unassigned(before, job_id)
    scores = [assert_figures(problem, listed, c) for c in candidates]
    best = best_scores(problem, listed, job_id)
    assert {c.technician for c in candidates} == set(best)
    for candidate, score in zip(candidates, scores, strict=True):
        assert score == pytest.approx(best[candidate.technician], abs=TOLERANCE)
    for earlier, later in pairwise(scores):
        assert earlier <= later + TOLERANCE
    return candidates


def busy_day(*extra: Job, **first: object) -> Problem:
    """Three technicians with lunch and six jobs, two of them needing a part from WH-1."""
    options = {"home": HOME_WEST, "lunch": LUNCH, "van": {"FLT": 1}} | first
    return day(
        [
            technician("T-1", {"hvac", "electrical"}, **options),  # type: ignore[arg-type]
            technician("T-2", {"plumbing", "hvac"}, home=HOME_EAST, lunch=LUNCH),
            technician("T-3", {"hvac"}, home=CENTRE, shift=("09:00", "15:00")),
        ],
        [
            job("J-1", WEST, 45, skills={"hvac"}, due="10:00"),
            job("J-2", NORTH, 60, skills={"electrical"}, span=("10:00", "12:00")),
            job("J-3", EAST, 30, skills={"plumbing"}, parts={"FLT": 1}),
            job("J-4", SOUTH, 45, skills={"hvac"}, due="11:00"),
            job("J-5", CENTRE, 30, parts={"FLT": 1}),
            job("J-6", EAST, 60, skills={"hvac"}, span=("13:00", "15:00")),
            *extra,
        ],
        [warehouse(stock={"FLT": 3})],
    )


# --- ranking and best place --------------------------------------------------------------


@pytest.mark.parametrize(
    "new",
    [
        job("J-NEW", NORTH, 60, Priority.EMERGENCY, skills={"hvac"}, due="12:00"),
        job("J-NEW", SOUTH, 30, Priority.HIGH, span=("13:00", "14:00")),
        job("J-NEW", EAST, 45, Priority.EMERGENCY, parts={"FLT": 1}, due="11:00"),
        job("J-NEW", DEPOT, 90, Priority.NORMAL),
    ],
    ids=["skilled-due", "window", "parts", "long"],
)
def test_ranking_follows_the_checker_on_a_hand_built_day(new: Job) -> None:
    """On a small day, candidates are ranked as the checker scores the plan with the job."""
    problem = busy_day()
    candidates = assert_ranked_as_checked(with_job(problem, new), plan(problem), "J-NEW")
    assert candidates


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("day_name", ["oslo", "stockholm", "c101"])
def test_ranking_follows_the_checker_on_shipped_days(
    day_name: str, seed: int, request: pytest.FixtureRequest
) -> None:
    """On the shipped days and a Solomon instance, an emergency anywhere is ranked as checked.

    The reference finds a place for it on most of these days, so an engine offering
    nobody would fail here.
    """
    solved: Solved = request.getfixturevalue(day_name)
    new = emergency_somewhere(solved.problem, random.Random(seed))
    problem = with_job(solved.problem, new)
    before = unassigned(solved.solution, new.id)
    candidates = assert_ranked_as_checked(problem, before, new.id)
    # Nobody when the day is full: then, and only then, there is a reason.
    assert (why_no_candidate(problem, before, new.id) is None) == bool(candidates)


def emergency_somewhere(problem: Problem, rng: random.Random) -> Job:
    """An hour-long emergency inside the day's area, due mid-shift, needing a skill some hold."""
    lats = [j.location.lat for j in problem.jobs]
    lons = [j.location.lon for j in problem.jobs]
    place = Location(rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons)))
    held = sorted(set().union(*(t.skills for t in problem.technicians)))
    shift = problem.technicians[0].shift
    return Job(
        "EMERGENCY",
        place,
        60 * problem.ticks_per_minute,
        Priority.EMERGENCY,
        frozenset({rng.choice(held)} if held else ()),
        sla_due=(shift.start + shift.end) // 2,
    )


def test_limit_keeps_the_best() -> None:
    """``limit`` cuts the ranking, keeping its head."""
    problem = with_job(busy_day(), job("J-NEW", NORTH, 30))
    before = plan(busy_day())

    everyone = insertion_candidates(problem, before, "J-NEW", limit=None)

    assert len(everyone) == 3
    assert insertion_candidates(problem, before, "J-NEW", limit=2) == everyone[:2]


# --- who may take it -------------------------------------------------------------------


def test_only_technicians_with_the_skills() -> None:
    """A job needing electrical goes only to T-1, however close the others are."""
    new = job("J-NEW", HOME_EAST, 30, Priority.EMERGENCY, skills={"electrical"})
    problem = busy_day()

    candidates = insertion_candidates(with_job(problem, new), plan(problem), "J-NEW")

    assert [c.technician for c in candidates] == ["T-1"]


def test_only_the_pinned_technician() -> None:
    """A job pinned to T-1 is offered to T-1 alone, even at T-2's door."""
    new = job("J-NEW", HOME_EAST, 30, Priority.EMERGENCY, pinned="T-1")
    problem = busy_day()

    candidates = insertion_candidates(with_job(problem, new), plan(problem), "J-NEW")

    assert [c.technician for c in candidates] == ["T-1"]


def test_jobs_under_way_stay_at_the_head_of_the_route() -> None:
    """T-1 is on J-1 and then J-2: a new job at their home still comes after both."""
    problem = busy_day(fixed=("J-1", "J-2"))
    new = job("J-NEW", HOME_WEST, 30, Priority.EMERGENCY, skills={"electrical"})
    inserted = with_job(problem, new)

    (candidate,) = assert_ranked_as_checked(inserted, plan(problem), "J-NEW")

    assert candidate.route.job_ids[:2] == ("J-1", "J-2")
    assert candidate.position >= 2


def test_parts_the_van_lacks_come_from_a_warehouse_call() -> None:
    """T-2's van has no filter: taking a job that needs one adds a call at WH-1 before it."""
    new = job("J-NEW", HOME_EAST, 30, Priority.EMERGENCY, skills={"plumbing"}, parts={"FLT": 1})
    problem = busy_day()

    (candidate,) = insertion_candidates(with_job(problem, new), plan(problem), "J-NEW")

    stops = [(s.kind, s.id) for s in candidate.route.stops if s.kind != StopKind.BREAK]
    at_job = stops.index((StopKind.JOB, "J-NEW"))
    assert candidate.warehouse_call == "WH-1"
    assert (StopKind.WAREHOUSE, "WH-1") in stops[:at_job]


def test_a_van_holding_the_part_needs_no_call() -> None:
    """T-1's van holds a filter: T-1's candidate names no warehouse call."""
    new = job("J-NEW", HOME_WEST, 30, Priority.EMERGENCY, skills={"electrical"}, parts={"FLT": 1})
    problem = busy_day(van={"FLT": 3})

    (candidate,) = insertion_candidates(with_job(problem, new), plan(problem), "J-NEW")

    assert candidate.warehouse_call is None


# --- nobody can take it ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "code", "words"),
    [
        (job("J-NEW", skills={"elevator"}), Reason.NO_SKILLED_TECHNICIAN, "'elevator'"),
        (job("J-NEW", span=("18:00", "19:00")), Reason.WINDOW_OUTSIDE_SHIFTS, "shift"),
        (
            job("J-NEW", pinned="T-3", skills={"electrical"}),
            Reason.PINNED_TECHNICIAN_UNAVAILABLE,
            "T-3",
        ),
        (job("J-NEW", parts={"PUMP": 1}), Reason.PARTS_UNAVAILABLE, "PUMP"),
    ],
    ids=["skill", "window", "pin", "part"],
)
def test_a_job_nobody_may_do_has_the_planners_reason(new: Job, code: Reason, words: str) -> None:
    """Nobody could do the job even alone: no candidate, and the reason ``solve`` would give."""
    problem = busy_day()
    inserted = with_job(problem, new)
    before = plan(problem)

    assert insertion_candidates(inserted, before, "J-NEW") == []
    reason = why_no_candidate(inserted, before, "J-NEW")
    assert reason is not None
    assert (reason.job, reason.code) == ("J-NEW", code)
    assert words in reason.reason


def test_a_full_day_has_no_room() -> None:
    """T-1 alone, booked from 08:00 to 10:00: a one-hour job fits the shift but not the plan."""
    problem = day(
        [technician("T-1", shift=("08:00", "10:00"))],
        [job("J-1", CENTRE, 100), job("J-2", WEST, 60)],
    )
    before = plan(replace(problem, jobs=problem.jobs[:1]))
    assert before.route_of("T-1") is not None

    assert insertion_candidates(problem, before, "J-2") == []
    reason = why_no_candidate(problem, before, "J-2")
    assert reason is not None
    assert reason.code == Reason.NOT_ENOUGH_TIME
    assert "no room" in reason.reason


def test_stock_taken_by_other_routes() -> None:
    """WH-1's only filter goes to T-2's job: T-1, without one in the van, cannot take another."""
    problem = day(
        [technician("T-1", home=HOME_WEST), technician("T-2", home=HOME_EAST)],
        [job("J-1", EAST, 30, parts={"FLT": 1}, pinned="T-2")],
        [warehouse(stock={"FLT": 1})],
    )
    before = plan(problem)
    new = job("J-NEW", WEST, 30, parts={"FLT": 1}, pinned="T-1")
    inserted = with_job(problem, new)

    assert insertion_candidates(inserted, before, "J-NEW") == []
    reason = why_no_candidate(inserted, before, "J-NEW")
    assert reason is not None
    assert reason.code == Reason.PARTS_UNAVAILABLE


def test_no_reason_when_someone_can() -> None:
    """``why_no_candidate`` answers None as long as there is a candidate."""
    problem = busy_day()
    inserted = with_job(problem, job("J-NEW", NORTH, 30))

    assert why_no_candidate(inserted, plan(problem), "J-NEW") is None


# --- bad questions ---------------------------------------------------------------------


def test_bad_questions_are_refused_with_a_message() -> None:
    """An unknown job, one already planned or under way, and a limit below 1 are refused."""
    problem = busy_day(fixed=("J-1",))
    before = plan(problem)
    planned = next(r.job_ids[-1] for r in before.routes if r.technician == "T-2")

    with pytest.raises(ValueError, match="not one of the day's jobs"):
        insertion_candidates(problem, before, "J-404")
    with pytest.raises(ValueError, match=f"{planned} is in T-2's route already"):
        insertion_candidates(problem, before, planned)
    with pytest.raises(ValueError, match="J-1 is under way with T-1"):
        insertion_candidates(problem, before, "J-1")
    with pytest.raises(ValueError, match="limit must be at least 1"):
        insertion_candidates(problem, before, "J-2", limit=0)


def test_a_plan_for_another_day_is_refused() -> None:
    """A plan naming a job the problem lacks is refused, not half-read."""
    problem = busy_day()
    before = plan(busy_day(job("J-OTHER", NORTH)))
    inserted = with_job(problem, job("J-NEW", NORTH))

    with pytest.raises(ValueError, match="not one of the day's"):
        insertion_candidates(inserted, before, "J-NEW")

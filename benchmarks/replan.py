"""Re-planning a published day after one emergency: how long it takes, how many jobs move.

    python benchmarks/replan.py [--day PATH] [--publish-s 30] [--replan-s 8] [--trials 3]
                                [--seed 8] [--move-cost-min 60]

The target: after one emergency is added to the published madrid-100x600 plan, the
re-plan is ready in <= 10 s and moves <= 10 % of the dispatched jobs between technicians.

The day is planned for ``--publish-s``: that is the published plan. Then it is 10:00,
and each technician's first planned stop, when it is a job, is taken to be under way (a
fixed job, which may not move; routes that open with a warehouse call have nothing
under way; later jobs may move, even to before 10:00: a simplification). Each
trial adds one emergency at the site of one of the day's jobs, needing one skill
(each is held by about 30 of madrid's technicians), an hour on site between 10:00
and the end of the latest shift, due four hours after 10:00. It is re-planned from the
published plan for ``--replan-s`` with the published assignment as the incumbent,
then again without it for comparison. Scores are the checker's (FORMAT.md), which
leaves the move cost out.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace
from pathlib import Path

from optimizer import (
    Job,
    Priority,
    Problem,
    Solution,
    SolveParams,
    StopKind,
    TimeWindow,
    assigned_technicians,
    check,
    moved_jobs,
    read_problem,
    solve,
)

DAY = Path(__file__).resolve().parents[2] / "shared/benchmarks/fieldservice/madrid-100x600.json"
#: When the emergency comes in, and what it asks for (seconds since midnight, seconds).
NOW_S, SERVICE_S, DUE_AFTER_S = 10 * 3600, 3600, 4 * 3600


def at_now(problem: Problem, published: Solution) -> Problem:
    """The day at ``NOW_S``: each route's first stop is under way, when it is a job."""
    first = {
        route.technician: route.stops[0].id
        for route in published.routes
        if route.stops and route.stops[0].kind == StopKind.JOB
    }
    return replace(
        problem,
        technicians=tuple(
            replace(t, fixed_jobs=(first[t.id],)) if t.id in first else t
            for t in problem.technicians
        ),
    )


def with_emergency(problem: Problem, rng: random.Random, trial: int) -> Problem:
    """The day plus one emergency at the site of a random job, needing one random skill."""
    site = rng.choice(problem.jobs).location
    skill = rng.choice(sorted({s for t in problem.technicians for s in t.skills}))
    day_end = max(t.shift.end for t in problem.technicians)
    emergency = Job(
        f"EMERGENCY-{trial}",
        site,
        SERVICE_S,
        Priority.EMERGENCY,
        frozenset({skill}),
        window=TimeWindow(NOW_S, day_end),
        sla_due=NOW_S + DUE_AFTER_S,
    )
    return replace(problem, jobs=(*problem.jobs, emergency))


def clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def replan_line(
    problem: Problem,
    published: Solution,
    incumbent: dict[str, str] | None,
    seconds: float,
    move_cost_min: float,
) -> tuple[float, float]:
    """Re-plan and print what a dispatcher would ask; returns (wall s, % moved).

    Dropped jobs were dispatched and are left out of the re-plan: a phone call too.
    """
    began = time.monotonic()
    params = SolveParams(
        time_limit_s=seconds, initial=published, incumbent=incumbent, move_cost_min=move_cost_min
    )
    solution = solve(problem, params)
    wall_s = time.monotonic() - began
    emergency = problem.jobs[-1].id
    dispatched = assigned_technicians(published)
    assigned = assigned_technicians(solution)
    moved = len(moved_jobs(dispatched, solution))
    share = 100 * moved / len(dispatched)
    dropped = sum(1 for job_id in dispatched if job_id not in assigned)
    report = check(problem, solution)
    who = assigned.get(emergency)
    if who is None:
        served = "emergency NOT served"
    else:
        route = solution.route_of(who)
        assert route is not None
        start = next(s.start for s in route.stops if s.id == emergency)
        served = f"emergency served by {who} at {clock(start)}"
    score = "infeasible" if report.score is None else f"{report.score:,.0f}"
    label = "with incumbent" if incumbent is not None else "without incumbent"
    print(
        f"  {label:<18} {wall_s:5.1f} s  {served:<38} moved {moved:>3}/{len(dispatched)}"
        f" ({share:4.1f} %), dropped {dropped}, served {len(assigned)}/{len(problem.jobs)}"
        f"  score {score}  {len(report.violations)} violation(s)"
    )
    return wall_s, share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=Path, default=DAY)
    parser.add_argument("--publish-s", type=float, default=30.0)
    parser.add_argument("--replan-s", type=float, default=8.0)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--move-cost-min", type=float, default=SolveParams().move_cost_min)
    args = parser.parse_args()

    day = read_problem(args.day)
    began = time.monotonic()
    published = solve(day, SolveParams(time_limit_s=args.publish_s))
    now = at_now(day, published)
    before = check(now, published)
    print(
        f"{day.name}: published plan in {time.monotonic() - began:.1f} s,"
        f" {len(assigned_technicians(published))}/{len(day.jobs)} jobs dispatched,"
        f" score {before.score:,.0f}; at {clock(NOW_S)} each technician's first job is under way"
    )
    print(
        f"re-plans: {args.replan_s:g} s search limit, move cost {args.move_cost_min:g} min per job"
    )
    rng = random.Random(args.seed)
    walls, shares = [], []
    for trial in range(1, args.trials + 1):
        problem = with_emergency(now, rng, trial)
        emergency = problem.jobs[-1]
        print(
            f"trial {trial}: {emergency.id} ({', '.join(sorted(emergency.skills))}) at"
            f" {emergency.location.lat:.4f}, {emergency.location.lon:.4f}"
        )
        for incumbent in (assigned_technicians(published), None):
            wall_s, share = replan_line(
                problem, published, incumbent, args.replan_s, args.move_cost_min
            )
            if incumbent is not None:
                walls.append(wall_s)
                shares.append(share)
    print(
        f"with incumbent, over {args.trials} trial(s): slowest re-plan {max(walls):.1f} s"
        f" (target <= 10), most moved {max(shares):.1f} % (target <= 10)"
    )


if __name__ == "__main__":
    main()

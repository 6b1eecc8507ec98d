"""How fast ``insertion_candidates`` answers on a planned day: the issue's target is 1 s.

    python benchmarks/candidates.py [--day PATH] [--time-limit 30] [--trials 20] [--seed 8]

Plans the day with ``solve`` once, then for each trial adds one emergency at a random
place in the day's area (a random skill the day's jobs need; every other trial a part
too) and times ``insertion_candidates`` for it alone, as a dispatcher's question would.
The top candidate of each trial is applied and judged by the checker.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

from optimizer import (
    Job,
    Location,
    Priority,
    Problem,
    SolveParams,
    apply_candidate,
    check,
    insertion_candidates,
    read_problem,
    solve,
    why_no_candidate,
)

DAY = Path(__file__).resolve().parents[2] / "shared/benchmarks/fieldservice/madrid-100x600.json"
#: The emergency: an hour on site, due by 13:00 (seconds since midnight).
SERVICE_S, DUE_S = 3600, 13 * 3600


def emergency(problem: Problem, rng: random.Random, with_part: bool) -> Job:
    """A new emergency somewhere inside the day's area, needing what the day's jobs need."""
    lats = [j.location.lat for j in problem.jobs]
    lons = [j.location.lon for j in problem.jobs]
    place = Location(rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons)))
    skill = rng.choice(sorted({s for j in problem.jobs for s in j.skills}))
    parts = (
        {rng.choice(sorted({p for j in problem.jobs for p in j.parts})): 1} if with_part else {}
    )
    return Job(
        "EMERGENCY",
        place,
        SERVICE_S,
        Priority.EMERGENCY,
        frozenset({skill}),
        sla_due=DUE_S,
        parts=parts,
    )


def clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=Path, default=DAY)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    problem = read_problem(args.day)
    began = time.monotonic()
    plan = solve(problem, SolveParams(time_limit_s=args.time_limit))
    served = sum(len(r.job_ids) for r in plan.routes)
    print(
        f"{problem.name}: planned in {time.monotonic() - began:.1f} s, "
        f"{served}/{len(problem.jobs)} jobs served"
    )

    rng = random.Random(args.seed)
    seconds: list[float] = []
    for trial in range(args.trials):
        new = emergency(problem, rng, with_part=trial % 2 == 1)
        day = replace(problem, jobs=(*problem.jobs, new))
        began = time.perf_counter()
        candidates = insertion_candidates(day, plan, new.id)
        seconds.append(time.perf_counter() - began)
        needs = f"{next(iter(new.skills))}" + (f" + {next(iter(new.parts))}" if new.parts else "")
        if not candidates:
            reason = why_no_candidate(day, plan, new.id)
            print(f"  trial {trial:2d} ({needs}): nobody, {reason.reason if reason else '?'}")
            continue
        top = candidates[0]
        report = check(day, apply_candidate(plan, top))
        print(
            f"  trial {trial:2d} ({needs}): {len(candidates)} candidates in "
            f"{seconds[-1] * 1000:.0f} ms; best {top.technician} starts {clock(top.start)}, "
            f"+{top.added_travel / 60:.0f} min travel, others delayed "
            f"{top.delay / 60:.0f} min, warehouse {top.warehouse_call or '-'}, "
            f"checker {'feasible' if report.feasible else 'INFEASIBLE'}"
        )
    print(
        f"insertion_candidates over {len(seconds)} trials: median "
        f"{statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()

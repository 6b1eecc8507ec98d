"""Benchmark our engine against VROOM, PyVRP and greedy dispatch, all scored by optimizer.check.

    python benchmarks/run.py [--time-limit 30] [--days oslo-5x30 ...]
                             [--solomon 'C1*' 'R1*' ...] [--homberger '*_4_*' ...]
                             [--only ours,vroom,pyvrp,greedy]

Every solver runs in a subprocess of its own, one after another: each gets the
whole machine and the same time limit. Its peak memory is that of its own process
group, the solve and its search processes together, sampled every 0.5 s.
Wall time is measured around the solve, since VROOM overruns its timeout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The folder is not installed: make `benchmarks` importable when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer import (
    Priority,
    Problem,
    ProgressCallback,
    Solution,
    SolveParams,
    check,
    read_problem,
    solve,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
SOLVERS = ("ours", "vroom", "pyvrp", "greedy")
LETTER = {Priority.EMERGENCY: "E", Priority.HIGH: "H", Priority.NORMAL: "N", Priority.LOW: "L"}


class Unavailable(Exception):
    """A solver cannot run here (pyvroom or pyvrp missing) or cannot state the problem."""


def solve_ours(problem: Problem, time_limit_s: float, on_progress: ProgressCallback) -> Solution:
    """The one place that calls our engine, so a change of its signature is one edit."""
    return solve(problem, SolveParams(time_limit_s=time_limit_s, on_progress=on_progress))


def solve_vroom(problem: Problem, time_limit_s: float) -> Solution:
    try:
        from benchmarks.vroom_adapter import vroom_solution
    except ImportError as exc:
        raise Unavailable(f"pyvroom is not available ({exc})") from None
    return vroom_solution(problem, time_limit_s)


def solve_pyvrp(problem: Problem, time_limit_s: float) -> Solution:
    try:
        from benchmarks.pyvrp_adapter import Inexpressible, pyvrp_solution
    except ImportError as exc:
        raise Unavailable(f"pyvrp is not available ({exc})") from None
    try:
        return pyvrp_solution(problem, time_limit_s)
    except Inexpressible as exc:
        raise Unavailable(str(exc)) from None


def solve_greedy(problem: Problem) -> Solution:
    from benchmarks.greedy import greedy_solution

    return greedy_solution(problem)


class _GroupMemory(threading.Thread):
    """The most resident memory this process group held at once, sampled from /proc.

    A worker runs in a session of its own, so its group is the solve and the
    search processes it starts (they inherit the group), nothing else.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mib = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.peak_mib = max(self.peak_mib, _group_rss_mib(os.getpgrp()))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _group_rss_mib(group: int) -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group:
            total += int(fields[21]) * page
    return total / 2**20


def run_one(solver: str, path: Path, time_limit_s: float) -> dict[str, Any]:
    """Solve one instance with one solver, check the plan, and return the figures."""
    problem = read_problem(path)
    first: list[float] = []

    def on_progress(best_score: float, jobs_served: int, elapsed_s: float) -> None:
        if not first:
            first.append(elapsed_s)

    sampler = _GroupMemory()
    sampler.start()
    started = time.perf_counter()
    try:
        if solver == "ours":
            solution = solve_ours(problem, time_limit_s, on_progress)
        elif solver == "vroom":
            solution = solve_vroom(problem, time_limit_s)
        elif solver == "pyvrp":
            solution = solve_pyvrp(problem, time_limit_s)
        else:
            solution = solve_greedy(problem)
    except Unavailable as exc:
        return {"solver": solver, "error": str(exc)}
    wall = time.perf_counter() - started
    sampler.stop()
    report = check(problem, solution)
    totals = {p: report.served[p] + report.unserved[p] for p in Priority}
    return {
        "solver": solver,
        "error": None,
        "wall_s": wall,
        "first_s": first[0] if first else None,
        "peak_mib": max(
            sampler.peak_mib, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
        "feasible": report.feasible,
        "violations": [v.message for v in report.violations[:3]],
        "n_violations": len(report.violations),
        "score": report.score,
        "travel": report.travel_minutes,  # exact distance on Solomon instances
        "late": report.late_minutes,
        "served": {LETTER[p]: report.served[p] for p in Priority},
        "total": {LETTER[p]: totals[p] for p in Priority},
        "weighted_served": sum(problem.penalties[p] * report.served[p] for p in Priority),
        "all_served": not any(report.unserved.values()),
        "vehicles": sum(1 for route in solution.routes if route.job_ids),
    }


def run_in_subprocess(solver: str, path: Path, time_limit_s: float) -> dict[str, Any]:
    print(f"  {solver} on {path.stem} ...", file=sys.stderr, flush=True)
    command = [
        sys.executable,
        __file__,
        "--worker",
        solver,
        str(path),
        "--time-limit",
        str(time_limit_s),
    ]
    try:
        done = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=10 * time_limit_s + 300,
            start_new_session=True,  # a process group of its own, for its peak memory
        )
    except subprocess.TimeoutExpired:
        return {"solver": solver, "error": "did not finish"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"solver": solver, "error": f"crashed: {last}"}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- tables --------------------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _served(result: dict[str, Any]) -> str:
    return " ".join(f"{k} {result['served'][k]}/{result['total'][k]}" for k in "EHNL")


def _verdict(result: dict[str, Any]) -> str:
    if result["feasible"]:
        return "valid"
    return f"INVALID ({result['n_violations']}): {result['violations'][0]}"


def print_days(results: dict[str, dict[str, dict[str, Any]]], time_limit_s: float) -> None:
    print(
        f"\nField-service days, time limit {time_limit_s:g} s "
        "(score from optimizer.check, lower is better)"
    )
    header = (
        f"{'day':<20}{'solver':<8}{'score':>10}  {'served':<38}{'travel':>8}"
        f"{'late':>7}{'wall s':>8}{'first s':>8}{'MiB':>6}  check"
    )
    print(header)
    print("-" * len(header))
    for day, by_solver in results.items():
        for solver, r in by_solver.items():
            name = day if solver == next(iter(by_solver)) else ""
            if r["error"]:
                print(f"{name:<20}{solver:<8}{r['error']}")
                continue
            print(
                f"{name:<20}{solver:<8}{_num(r['score']):>10}  {_served(r):<38}"
                f"{_num(r['travel']):>8}{_num(r['late']):>7}{_num(r['wall_s'], 1):>8}"
                f"{_num(r['first_s'], 2):>8}{_num(r['peak_mib']):>6}  {_verdict(r)}"
            )
        comparison = _comparison(by_solver)
        if comparison:
            print("    " + comparison)


def _comparison(by_solver: dict[str, dict[str, Any]]) -> str:
    """Our score over VROOM's, our travel against greedy's, priority-weighted service."""
    ok = {s: r for s, r in by_solver.items() if not r["error"] and r["feasible"]}
    ours, vroom, greedy = ok.get("ours"), ok.get("vroom"), ok.get("greedy")
    parts = []
    if ours and vroom:
        parts.append(f"ours/VROOM score {ours['score'] / vroom['score']:.3f}")
    if ours and greedy:
        change = 100 * (ours["travel"] / greedy["travel"] - 1)
        parts.append(f"travel ours vs greedy {change:+.1f}%")
        parts.append(
            f"weighted served ours {ours['weighted_served']:,} "
            f"vs greedy {greedy['weighted_served']:,}"
        )
    return " | ".join(parts)


def solomon_class(name: str) -> str:
    match = re.match(r"(RC|R|C)(\d)", name.upper())
    return match.group(0) if match else name


def print_vrptw(
    title: str,
    results: dict[str, dict[str, dict[str, Any]]],
    bks: dict[str, float],
    time_limit_s: float,
) -> None:
    """One table of VRPTW runs: distance, gap to the best known, ours over PyVRP's distance."""
    print(f"\n{title}, time limit {time_limit_s:g} s")
    header = (
        f"{'instance':<10}{'solver':<8}{'distance':>10}{'best':>10}{'gap %':>8}"
        f"{'vehicles':>9}{'wall s':>8}  feasible"
    )
    print(header)
    print("-" * len(header))
    # (class, solver) -> (gap, vehicles) of each plan that serves everyone and is valid
    feasible_runs: dict[tuple[str, str], list[tuple[float, int]]] = {}
    ratios = []  # ours/PyVRP distance, where both served everyone validly
    for name, by_solver in results.items():
        best = bks.get(name)
        complete = {}
        for solver, r in by_solver.items():
            label = name if solver == next(iter(by_solver)) else ""
            if r["error"]:
                print(f"{label:<10}{solver:<8}{r['error']}")
                continue
            feasible = r["feasible"] and r["all_served"]
            if feasible:
                complete[solver] = r["travel"]
            # Rounded so that a plan at the best known reads 0.00, not -0.00.
            gap = round(100 * (r["travel"] / best - 1), 2) + 0.0 if best else None
            if feasible and gap is not None:
                key = (solomon_class(name), solver)
                feasible_runs.setdefault(key, []).append((gap, r["vehicles"]))
            verdict = "yes" if feasible else ("not all served" if r["feasible"] else _verdict(r))
            print(
                f"{label:<10}{solver:<8}{_num(r['travel'], 2):>10}{_num(best, 2):>10}"
                f"{_num(gap, 2):>8}{r['vehicles']:>9}{r['wall_s']:>8.1f}  {verdict}"
            )
        if "ours" in complete and "pyvrp" in complete:
            ratios.append(complete["ours"] / complete["pyvrp"])
            print(f"    ours/PyVRP distance {ratios[-1]:.3f}")
    print("\nAverages over feasible plans: gap %, vehicles (number of instances)")
    solvers = sorted({s for _, s in feasible_runs}, key=SOLVERS.index)
    classes = sorted({c for c, _ in feasible_runs})
    for row in [*classes, "all"]:
        cells = []
        for solver in solvers:
            runs = [
                run
                for (c, s), rs in feasible_runs.items()
                for run in rs
                if s == solver and row in (c, "all")
            ]
            gap = statistics.mean(g for g, _ in runs) if runs else None
            vehicles = statistics.mean(v for _, v in runs) if runs else None
            cells.append(f"{solver} {_num(gap, 2):>6}% {_num(vehicles, 1):>4} ({len(runs)})")
        print(f"  {row:<5} " + "   ".join(cells))
    if ratios:
        print(f"  ours/PyVRP distance: mean {statistics.mean(ratios):.3f} ({len(ratios)})")


def read_bks(path: Path, column: str) -> dict[str, float]:
    with path.open(newline="") as handle:
        return {
            row["instance"]: float(row[column]) for row in csv.DictReader(handle) if row[column]
        }


def _instances(folder: Path, patterns: list[str]) -> list[Path]:
    """The instance files matching any of the name globs, once each, in name order."""
    return sorted(
        {p for pattern in patterns for p in folder.glob(f"{pattern.removesuffix('.txt')}.txt")}
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared benchmarks folder")
    parser.add_argument(
        "--days",
        nargs="*",
        default=None,
        help="day names or files (default: every day; none given: skip)",
    )
    parser.add_argument(
        "--solomon",
        nargs="*",
        default=["C1*", "R1*", "RC1*"],
        help="instance name globs (none given: skip)",
    )
    parser.add_argument(
        "--homberger",
        nargs="*",
        default=[],
        help="Gehring & Homberger instance name globs, e.g. '*_4_*' (default: skip)",
    )
    parser.add_argument("--only", default=",".join(SOLVERS), help="solvers, comma-separated")
    parser.add_argument("--worker", nargs=2, metavar=("SOLVER", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        solver, path = args.worker
        print(json.dumps(run_one(solver, Path(path), args.time_limit)))
        return
    solvers = [s for s in SOLVERS if s in args.only.split(",")]
    if args.days is None:
        days = sorted((args.data / "fieldservice").glob("*.json"), key=lambda p: p.stat().st_size)
    else:
        days = [
            Path(d) if d.endswith(".json") else args.data / "fieldservice" / f"{d}.json"
            for d in args.days
        ]
    solomon = _instances(args.data / "solomon", args.solomon)
    homberger = _instances(args.data / "homberger", [f"*/{p}" for p in args.homberger])
    day_results = {
        day.stem: {s: run_in_subprocess(s, day, args.time_limit) for s in solvers} for day in days
    }
    if day_results:
        print_days(day_results, args.time_limit)
    for title, instances, bks, column in (
        (
            "Solomon (exact distance; gap to distonly_distance)",
            solomon,
            "solomon",
            "distonly_distance",
        ),
        (
            "Gehring & Homberger (gap to the vehicles-first bks_distance)",
            homberger,
            "homberger",
            "bks_distance",
        ),
    ):
        vrptw_results = {
            p.stem: {s: run_in_subprocess(s, p, args.time_limit) for s in solvers}
            for p in instances
        }
        if vrptw_results:
            best = read_bks(args.data / bks / "bks.csv", column)
            print_vrptw(title, vrptw_results, best, args.time_limit)


if __name__ == "__main__":
    main()

"""The improvement phase: searches side by side, one per search process.

Searches are single-threaded, so with two processes (``_parallel``) two run at
once. A small day is searched whole twice (the best wins): by OR-Tools (guided
local search, then rounds of ruin and an OR-Tools descent) and by our own ruin
and recreate (``_recreate``). A large day is split into disjoint parts of
neighbouring technicians, one per process, each improved by ruin and recreate,
the boundaries shifting between rounds. Every result is re-timed by the exact
route schedule and adopted only if the plan gets better.

A repeatable run (``SolveParams.iterations``) counts each search's work instead of
timing it, seeds each search's ruins from ``SolveParams.seed``, and runs the same
searches in the same order whatever the number of workers, so that the same seed
gives the same plan on any machine. The time limit then only caps the run.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from optimizer._construct import RoutesState, construct
from optimizer._network import Network
from optimizer._ortools import SearchVariant, Subproblem, improve
from optimizer._parallel import Report, Runner
from optimizer._recreate import ROUNDS_PER_ITERATION, Budget, ruin_and_recreate
from optimizer._ruin import ruin
from optimizer._schedule import Timing
from optimizer.eligibility import Eligibility

#: Days up to this many jobs are searched whole, OR-Tools beside our ruin and recreate;
#: larger ones in parts, by ruin and recreate alone. (Homberger rc1_4_1, 400 jobs from one
#: depot, 60 s: whole, ruin and recreate reached 9,031; in two parts 9,338, and 9,591 with
#: no exchange between the parts. stockholm-200x1200, 60 s: two parts 335k, one search of
#: the whole day 346k.)
WHOLE_DAY_JOBS = 400
#: Rounds of ruin and recreate on a day searched in parts (also in a repeatable run):
#: parts exchange jobs between rounds. OR-Tools has no share of a large day: polishing
#: groups of 20 technicians with it for the last 20-60 % of the time scored worse than
#: ruin and recreate all along (madrid-100x600, 30 s: 67.3k with 60 %, 65.6k with 20 %,
#: 64.4k with none; stockholm-200x1200, 60 s: 336.6k with 20 %, 335.0k with none).
PART_ROUNDS = 4
#: With less time left than this, no search is worth starting.
MIN_SEARCH_S = 0.05
#: OR-Tools' search of a whole day, beside ruin and recreate: guided local search from the
#: constructed routes, then rounds of ruin and an OR-Tools descent.
#: (Solomon R1/RC1/C1 and the two small days at 30 s: a 0.3 guide penalty beat 0.1; 0.5 was worse.)
WHOLE_DAY_VARIANT = SearchVariant(gls_lambda=0.3)
#: Share of the OR-Tools search's time for guided local search before ruin and recreate.
#: (Solomon R1/RC1 at 30 s: guided search alone stalled 5-8 % above the best known.)
WHOLE_DAY_GUIDED_SHARE = 0.2
#: After a ruin, OR-Tools' local search stops at the first local optimum.
DESCENT = SearchVariant(gls_lambda=None)
#: In a repeatable run, solutions a guided local search finds per iteration asked for:
#: about what it finds in the time one round of ruin and recreate takes (oslo-5x30 and
#: stockholm-20x120 found 8 and 30 in the time of one round).
GUIDED_SOLUTIONS_PER_ITERATION = 10
#: Searches a repeatable run makes side by side, whatever the number of workers (more
#: would idle; one worker runs them in turn): the plan must not depend on the machine's cores.
REPEATABLE_SIDE_BY_SIDE = 2


def width(net: Network, workers: int, time_limit_s: float) -> int:
    """How many searches are worth running side by side on this day, with ``workers`` at most.

    One when there is no time to search (no process is worth starting); a whole
    day has two searches (OR-Tools, ruin and recreate), a day in parts one per part.
    """
    if time_limit_s <= MIN_SEARCH_S:
        return 1
    return min(workers, 2 if _whole_day(net) else len(net.problem.technicians))


@dataclass(frozen=True)
class Effort:
    """How long each search goes on: until the deadline, or for ``iterations`` (repeatable).

    ``deadline`` is a ``time.monotonic()`` instant; with ``iterations`` it only caps the run.
    ``seed`` seeds the ruins, each search's own generator derived from it.
    """

    deadline: float
    iterations: int | None = None
    seed: int = 0


def improve_state(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    effort: Effort,
    report: Report,
    searches: Runner,
) -> None:
    """Improve ``state`` in place, as long as ``effort`` says."""
    everyone = tuple(range(len(net.problem.technicians)))
    deadline = effort.deadline
    if deadline - time.monotonic() <= MIN_SEARCH_S:
        return  # construction only
    side_by_side = searches.count if effort.iterations is None else REPEATABLE_SIDE_BY_SIDE
    if _whole_day(net):
        sub = subproblem(net, allowed, state, everyone)
        tasks: list[_Search | _Recreate] = [
            _Search.start(
                state, sub, WHOLE_DAY_VARIANT, WHOLE_DAY_GUIDED_SHARE, effort, "ortools"
            ),
            _Recreate.start(state, sub, effort, "ruin and recreate"),
        ]
        # In the order of the tasks, whichever finished first: of equal plans the later wins.
        budget_s = deadline - time.monotonic()
        for routes in searches.run(tasks[:side_by_side], budget_s, report, rivals=True):
            if routes is not None:
                adopt(net, allowed, state, everyone, routes)
        report(state.score(), len(state.assigned()))
        return
    _improve_in_parts(net, allowed, state, effort, report, searches, side_by_side)


def _improve_in_parts(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    effort: Effort,
    report: Report,
    searches: Runner,
    side_by_side: int,
) -> None:
    """A large day: ruin and recreate on disjoint parts of the day side by side, in rounds.

    The technicians are ordered by bearing from the day's centre and split into one
    part per search; each round shifts the boundaries by a ``PART_ROUNDS``-th of a
    part, so that no two rounds share a boundary and jobs cross each of them (shifting
    by half a part repeated the first two splits: stockholm-200x1200, 60 s, 321.0k and
    321.1k against 322.4k in runs side by side).
    """
    order = _by_bearing(net, state)
    for turn in range(PART_ROUNDS):
        remaining = effort.deadline - time.monotonic()
        if remaining <= MIN_SEARCH_S:
            return
        parts = split(order, side_by_side, turn)
        home = _nearest_parts(net, allowed, state, parts)
        subs = [
            subproblem(
                net,
                allowed,
                state,
                vehicles,
                exclude={job for job, part in home.items() if part != k},
                sharing=len(parts),
            )
            for k, vehicles in enumerate(parts)
        ]
        until = replace(effort, deadline=time.monotonic() + remaining / (PART_ROUNDS - turn))
        cooling = (turn / PART_ROUNDS, (turn + 1) / PART_ROUNDS)
        tasks = [
            _Recreate.start(state, sub, until, f"part {turn} {k}", cooling)
            for k, sub in enumerate(subs)
        ]
        results = searches.run(tasks, until.deadline - time.monotonic(), report)
        for sub, routes in zip(subs, results, strict=True):
            if routes is not None:
                adopt(net, allowed, state, sub.vehicles, routes, refill=False)
        report(state.score(), len(state.assigned()))


@dataclass(frozen=True)
class _Recreate:
    """A whole day or one part of it, as sent to a search process, for ruin and recreate."""

    routes: list[list[int]]
    timings: list[Timing | None]
    fixed: list[int]
    sub: Subproblem
    effort: Effort
    name: str
    cooling: tuple[float, float]  # the part of the annealing schedule this search covers

    @classmethod
    def start(
        cls,
        state: RoutesState,
        sub: Subproblem,
        effort: Effort,
        name: str,
        cooling: tuple[float, float] = (0.0, 1.0),
    ) -> _Recreate:
        copy = state.snapshot()
        return cls(copy.routes, copy.timings, copy.fixed, sub, effort, name, cooling)

    def __call__(self, net: Network, allowed: Eligibility, report: Report) -> list[list[int]]:
        # What the warehouses have left for this part: its share, less its routes' pickups.
        left = [Counter(stock) for stock in self.sub.stock]
        for technician in self.sub.vehicles:
            timing = self.timings[technician]
            if timing is not None:
                for position, parts in timing.pickups.items():
                    left[self.routes[technician][position] - net.n_jobs].subtract(parts)
        state = RoutesState(net, self.routes, self.timings, self.fixed, left)
        rng = random.Random(f"{self.effort.seed} {self.name}")
        rounds = None
        if self.effort.iterations is not None:
            rounds = self.effort.iterations * ROUNDS_PER_ITERATION
        relay = _relay(report, _outside(net, state, self.sub))
        ruin_and_recreate(
            net,
            allowed,
            state,
            self.sub.vehicles,
            self.sub.jobs,
            Budget(self.effort.deadline, rounds, self.cooling),
            rng,
            lambda score, served: relay(score, served, 0.0),
        )
        return [state.routes[t] for t in self.sub.vehicles]


@dataclass(frozen=True)
class _Search:
    """One search, as sent to a search process: the plan to start from and what to improve.

    The plan travels as its parts; the network stays with the process that runs it.
    """

    routes: list[list[int]]
    timings: list[Timing | None]
    fixed: list[int]
    warehouse_left: list[Counter[str]]
    sub: Subproblem
    variant: SearchVariant
    guided_share: float
    effort: Effort
    name: str  # tells its generator apart from the other searches' of the run

    @classmethod
    def start(
        cls,
        state: RoutesState,
        sub: Subproblem,
        variant: SearchVariant,
        guided_share: float,
        effort: Effort,
        name: str,
    ) -> _Search:
        copy = state.snapshot()
        return cls(
            copy.routes,
            copy.timings,
            copy.fixed,
            copy.warehouse_left,
            sub,
            variant,
            guided_share,
            effort,
            name,
        )

    def __call__(self, net: Network, allowed: Eligibility, report: Report) -> list[list[int]]:
        state = RoutesState(net, self.routes, self.timings, self.fixed, self.warehouse_left)
        # A str seed is hashed by SHA-512, never by hash(): the same whatever PYTHONHASHSEED.
        rng = random.Random(f"{self.effort.seed} {self.name}")
        return _search(
            net,
            allowed,
            state,
            self.sub,
            self.variant,
            self.guided_share,
            self.effort,
            rng,
            report,
        )


def _search(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    sub: Subproblem,
    variant: SearchVariant,
    guided_share: float,
    effort: Effort,
    rng: random.Random,
    report: Report,
) -> list[list[int]]:
    """Guided local search for a share of the time, then ruin and recreate until the deadline.

    Each round ruins the best plan so far (``_ruin``), lets OR-Tools descend to
    a local optimum from what is left of ``sub``'s routes, and keeps the result
    if the plan got better. Works on a copy of ``state``; returns the best routes
    of ``sub``'s technicians. The jobs and stock offered stay those of ``sub``.
    A repeatable run counts instead: guided local search stops after
    ``GUIDED_SOLUTIONS_PER_ITERATION`` solutions per iteration, and there are as
    many rounds as iterations (none when the guided search has all the time).
    """
    best = state.snapshot()
    deadline = effort.deadline
    relay = _relay(report, _outside(net, best, sub))
    if effort.iterations is None:
        guided_s, guided_solutions = guided_share * (deadline - time.monotonic()), None
        rounds: Iterable[int] = itertools.count()
    else:
        guided_s = deadline - time.monotonic()
        guided_solutions = GUIDED_SOLUTIONS_PER_ITERATION * effort.iterations
        rounds = range(effort.iterations if guided_share < 1 else 0)
    repeatable = effort.iterations is not None
    routes = improve(
        net,
        sub,
        variant,
        time_limit_s=guided_s,
        solution_limit=guided_solutions,
        repeatable=repeatable,
        progress=relay,
    )
    if routes is not None:
        adopt(net, allowed, best, sub.vehicles, routes)
    best_score = best.score()
    for _ in rounds:
        if deadline - time.monotonic() <= 0.05:
            break
        trial = best.snapshot()
        if not ruin(trial, sub.vehicles, rng):
            break  # nothing that may move
        start_routes, break_starts = _start_routes(trial, sub.vehicles)
        trial_sub = replace(sub, routes=start_routes, break_starts=break_starts)
        routes = improve(
            net,
            trial_sub,
            DESCENT,
            time_limit_s=deadline - time.monotonic(),
            repeatable=repeatable,
        )
        if routes is None:
            continue
        adopt(net, allowed, trial, sub.vehicles, routes)
        trial_score = trial.score()
        if trial_score < best_score:
            best, best_score = trial, trial_score
            report(best_score, len(best.assigned()))
    return [best.routes[t] for t in sub.vehicles]


def split(order: list[int], count: int, turn: int) -> list[tuple[int, ...]]:
    """``order`` (technicians by bearing) cut into ``count`` runs, the cuts moved on by ``turn``."""
    size = -(-len(order) // count)
    offset = (turn * size // PART_ROUNDS) % len(order)
    rotated = order[offset:] + order[:offset]
    return [tuple(sorted(rotated[k * size : (k + 1) * size])) for k in range(count)]


def _nearest_parts(
    net: Network, allowed: Eligibility, state: RoutesState, parts: Sequence[tuple[int, ...]]
) -> dict[int, int]:
    """Each unassigned job's part: that of the technician able to do it who is nearest it.

    Nearest by travel from where the technician starts or from a job on their route.
    Offering every job left out to the first part that could take it left the other
    parts none (stockholm-200x1200, 60 s: 324-331k that way, 323-326k this way).
    """
    part_of = {technician: k for k, vehicles in enumerate(parts) for technician in vehicles}
    nodes, owners = [], []
    for technician in part_of:
        places = [net.start_node(technician), *filter(net.is_job, state.routes[technician])]
        nodes += places
        owners += [technician] * len(places)
    owner = np.array(owners)
    assigned = state.assigned()
    home = {}
    far = np.iinfo(np.int64).max
    for job in (j for j in range(net.n_jobs) if j not in assigned):
        able = [t for t in allowed.allowed[job] if t in part_of]
        if able:
            distance = np.where(np.isin(owner, able), net.travel[nodes, job], far)
            home[job] = part_of[int(owner[np.argmin(distance)])]
    return home


def _whole_day(net: Network) -> bool:
    return net.n_jobs <= WHOLE_DAY_JOBS


def _by_bearing(net: Network, state: RoutesState) -> list[int]:
    """Technicians ordered by the bearing of their route's centre from the centre of all."""
    problem = net.problem
    centres = []
    for technician, tech in enumerate(problem.technicians):
        places = [tech.start] + [
            problem.jobs[v].location for v in state.routes[technician] if net.is_job(v)
        ]
        centres.append(
            (sum(p.lat for p in places) / len(places), sum(p.lon for p in places) / len(places))
        )
    middle_lat = sum(c[0] for c in centres) / len(centres)
    middle_lon = sum(c[1] for c in centres) / len(centres)
    return sorted(
        range(len(centres)),
        key=lambda t: math.atan2(centres[t][0] - middle_lat, centres[t][1] - middle_lon),
    )


def subproblem(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    vehicles: tuple[int, ...],
    exclude: set[int] | None = None,
    sharing: int = 1,
) -> Subproblem:
    """The group's routes, the unassigned jobs it could take, and the stock left for it.

    When ``sharing`` groups search at the same time, unassigned jobs in
    ``exclude`` are already offered to another of them (two searches never both
    take a job) and each gets an equal part of what the warehouses have left.
    """
    local = {technician: k for k, technician in enumerate(vehicles)}
    assigned = state.assigned()
    exclude = exclude or set()
    jobs = [v for t in vehicles for v in state.routes[t] if net.is_job(v)]
    jobs += [
        j
        for j in range(net.n_jobs)
        if j not in assigned and j not in exclude and any(t in local for t in allowed.allowed[j])
    ]
    # What is left, shared among the groups searching now, plus what the group's
    # own routes already pick up.
    stock = [
        Counter({sku: n // sharing for sku, n in left.items()}) for left in state.warehouse_left
    ]
    for technician in vehicles:
        timing = state.timings[technician]
        if timing is not None:
            for position, parts in timing.pickups.items():
                stock[state.routes[technician][position] - net.n_jobs].update(parts)
    routes, break_starts = _start_routes(state, vehicles)
    return Subproblem(
        vehicles=vehicles,
        jobs=tuple(jobs),
        allowed={j: tuple(local[t] for t in allowed.allowed[j] if t in local) for j in jobs},
        routes=routes,
        fixed=tuple(tuple(state.routes[t][: state.fixed[t]]) for t in vehicles),
        break_starts=break_starts,
        stock=tuple(stock),
    )


def _start_routes(
    state: RoutesState, vehicles: tuple[int, ...]
) -> tuple[tuple[tuple[int, ...], ...], tuple[int | None, ...]]:
    """A subproblem's start routes and where their breaks start, as ``state`` has them."""
    routes = tuple(tuple(state.routes[t]) for t in vehicles)
    timings = (state.timings[t] for t in vehicles)
    break_starts = tuple(None if timing is None else timing.break_start for timing in timings)
    return routes, break_starts


def adopt(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    vehicles: tuple[int, ...],
    routes: list[list[int]],
    *,
    refill: bool = True,
) -> None:
    """Take a search's routes for a group, each re-timed, unless the plan gets worse.

    With ``refill``, jobs a re-timed route cannot keep, and any other job left out,
    are inserted again wherever they fit (OR-Tools' routes are timed by its own
    model; a ruin and recreate's by ours already, and it tried the jobs left out). The model
    pins jobs under way to the head of their routes; routes that still do not open with
    them are refused as a whole, since keeping one old route beside the group's new ones
    would visit the jobs it shares with them twice.
    """
    opening = [state.routes[t][: state.fixed[t]] for t in vehicles]
    if any(visits[: len(fixed)] != fixed for visits, fixed in zip(routes, opening, strict=True)):
        return
    before = state.score()
    saved = state.snapshot()
    elsewhere = {
        v for t, route in enumerate(state.routes) if t not in set(vehicles) for v in route
    }
    for technician in vehicles:
        state.clear(technician)
    for technician, visits in zip(vehicles, routes, strict=True):
        visits = [v for v in visits if not (net.is_job(v) and v in elsewhere)]
        state.commit_valid_prefix(technician, visits)
    if refill:
        construct(net, allowed, state)
    if state.score() > before:
        state.restore(saved)


@dataclass(frozen=True)
class _Offset:
    """Score and jobs served of everything a subproblem leaves out."""

    score: float
    served: int


def _outside(net: Network, state: RoutesState, sub: Subproblem) -> _Offset:
    problem = net.problem
    inside, in_sub = set(sub.vehicles), set(sub.jobs)
    cost = sum(state.cost(t) for t in range(len(problem.technicians)) if t not in inside)
    served = {v for t, route in enumerate(state.routes) if t not in inside for v in route}
    penalty = sum(
        problem.penalties[job.priority]
        for j, job in enumerate(problem.jobs)
        if j not in in_sub and j not in served
    )
    jobs_served = sum(1 for v in served if net.is_job(v))
    return _Offset(cost / problem.ticks_per_minute + penalty, jobs_served)


def _relay(report: Report, offset: _Offset) -> Callable[[float, int, float], None]:
    """OR-Tools' progress on a subproblem, as progress on the whole plan."""
    return lambda part, served, _elapsed: report(offset.score + part, offset.served + served)

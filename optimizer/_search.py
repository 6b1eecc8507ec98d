"""The improvement phase: OR-Tools on groups of technicians, on every search process.

OR-Tools' routing search is single-threaded, so with two processes (``_parallel``)
two searches run at once: on a small day, two different searches of the whole day
(the best wins), each guided local search followed by ruin and recreate; on a large
day, two disjoint groups of neighbouring technicians. Every result is re-timed by
the exact route schedule and adopted only if the plan gets better.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from optimizer._construct import RoutesState, construct
from optimizer._network import Network
from optimizer._ortools import SearchVariant, Subproblem, improve
from optimizer._parallel import Report, Runner
from optimizer._ruin import ruin
from optimizer._schedule import Timing
from optimizer.eligibility import Eligibility

#: Technicians OR-Tools improves at once when breaks are involved (see ``_batches``).
GROUP_SIZE = 20
#: Without breaks, days up to this many jobs are improved whole.
WHOLE_DAY_JOBS = 400
#: Rounds over all groups that the time limit is split into (and a repeatable run makes).
ROUNDS = 4
#: With less time left than this, no search is worth starting.
MIN_SEARCH_S = 0.05
#: Whole-day searches, side by side: no single start or guide penalty wins everywhere.
#: (Tried on Solomon R1/RC1/C1 and the two small days at 30 s: a 0.3 guide penalty in both
#: beat 0.1 in either; 0.5 was worse.)
WHOLE_DAY_VARIANTS = (
    SearchVariant(gls_lambda=0.3),
    SearchVariant(from_routes=False, gls_lambda=0.3),
)

#: Share of a whole-day search's time for guided local search before ruin and recreate.
#: (Solomon R1/RC1 at 30 s: guided search alone stalled 5-8 % above the best known.)
WHOLE_DAY_GUIDED_SHARE = 0.2
#: Groups of a large day search with OR-Tools' default guide penalty, for all their time:
#: with 1.5-3 s per group, ruin and recreate made the two large days worse.
GROUP_VARIANT = SearchVariant()
GROUP_GUIDED_SHARE = 1.0
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

    One when there is no time to search (no process is worth starting), at most
    one per whole-day variant or per group of technicians.
    """
    if time_limit_s <= MIN_SEARCH_S:
        return 1
    if _whole_day(net):
        return min(workers, len(WHOLE_DAY_VARIANTS))
    return min(workers, _group_count(net))


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
        tasks = [
            _Search.start(state, sub, variant, WHOLE_DAY_GUIDED_SHARE, effort, f"whole day {k}")
            for k, variant in enumerate(WHOLE_DAY_VARIANTS[:side_by_side])
        ]
        # In the order of the tasks, whichever finished first: of equal plans the later wins.
        for routes in searches.run(tasks, deadline - time.monotonic(), report):
            if routes is not None:
                adopt(net, allowed, state, everyone, routes)
        report(state.score(), len(state.assigned()))
        return
    per_group = (deadline - time.monotonic()) * side_by_side / (ROUNDS * _group_count(net))
    if effort.iterations is not None:
        per_group = math.inf  # each group's search counts its solutions
    for turn, batch in enumerate(_batches(net, state, effort, side_by_side)):
        remaining = deadline - time.monotonic()
        if remaining <= MIN_SEARCH_S:
            return
        subs: list[Subproblem] = []
        taken: set[int] = set()
        for vehicles in batch:
            sub = subproblem(net, allowed, state, vehicles, exclude=taken, sharing=len(batch))
            taken.update(sub.jobs)
            subs.append(sub)
        until = replace(effort, deadline=time.monotonic() + min(per_group, remaining))
        tasks = [
            _Search.start(
                state, sub, GROUP_VARIANT, GROUP_GUIDED_SHARE, until, f"group {turn} {k}"
            )
            for k, sub in enumerate(subs)
        ]
        results = searches.run(tasks, until.deadline - time.monotonic(), report)
        for sub, routes in zip(subs, results, strict=True):
            if routes is not None:
                adopt(net, allowed, state, sub.vehicles, routes)
        report(state.score(), len(state.assigned()))


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


def _whole_day(net: Network) -> bool:
    technicians = net.problem.technicians
    breaks = any(t.break_rule is not None for t in technicians)
    return len(technicians) <= GROUP_SIZE or (not breaks and net.n_jobs <= WHOLE_DAY_JOBS)


def _group_count(net: Network) -> int:
    return -(-len(net.problem.technicians) // GROUP_SIZE)


def _batches(
    net: Network, state: RoutesState, effort: Effort, side_by_side: int
) -> Iterator[list[tuple[int, ...]]]:
    """Disjoint groups of neighbours, ``side_by_side`` at a time, round after round.

    OR-Tools' break constraints stop finding a first solution beyond a few dozen
    technicians, and its search slows with size; neighbouring routes are where
    jobs move anyway. Each round shifts the group boundaries by half a group so
    that jobs can cross them. Rounds go on until the deadline, or ``ROUNDS`` of
    them in a repeatable run.
    """
    technicians = len(net.problem.technicians)
    order = _by_bearing(net, state)
    count = _group_count(net)
    offset = 0
    rounds = itertools.count() if effort.iterations is None else range(ROUNDS)
    for _ in rounds:
        if time.monotonic() >= effort.deadline:
            return
        rotated = order[offset:] + order[:offset]
        groups = [
            tuple(sorted(rotated[g * GROUP_SIZE : (g + 1) * GROUP_SIZE])) for g in range(count)
        ]
        for first in range(0, count, side_by_side):
            yield groups[first : first + side_by_side]
        offset = (offset + GROUP_SIZE // 2) % technicians


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
) -> None:
    """Take OR-Tools' routes for a group, each re-timed, unless the plan gets worse.

    Jobs a re-timed route cannot keep are inserted again wherever they fit. The model
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

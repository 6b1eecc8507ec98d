"""``solve``: one problem in, one plan out.

Eligibility first (who may do what, and why a job has nobody), then a fast
constructed plan, then OR-Tools' guided local search from it for the rest of the
time limit. Whatever OR-Tools returns is re-timed by the same exact route
schedule the construction uses, so times, breaks and pickups come from one place.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from optimizer._construct import PRIORITY_RANK, RoutesState, construct
from optimizer._network import Network
from optimizer._ortools import Subproblem, improve
from optimizer._schedule import Timing, evaluate
from optimizer.eligibility import Eligibility, eligibility
from optimizer.problem import Problem
from optimizer.solution import Reason, Route, Solution, Stop, StopKind, Unassigned

#: Technicians OR-Tools improves at once when breaks are involved (see ``_groups``).
GROUP_SIZE = 20
#: Without breaks, days up to this many jobs are improved whole.
WHOLE_DAY_JOBS = 400

#: Called with (best score so far, jobs served, seconds since solve began).
ProgressCallback = Callable[[float, int, float], None]


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How long to search and whom to tell about progress.

    ``initial`` is a plan to start from (the current plan when re-planning during
    the day): its routes are kept where still valid and the search improves them.
    OR-Tools' search under a time limit is not repeatable run to run; the
    construction is deterministic.
    """

    time_limit_s: float = 30.0
    on_progress: ProgressCallback | None = None
    initial: Solution | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s < 0:
            raise ValueError("time_limit_s must not be negative")


def solve(problem: Problem, params: SolveParams | None = None) -> Solution:
    """Plan ``problem``; every job ends up in a route or unassigned with a reason."""
    params = params or SolveParams()
    progress = _Progress(params.on_progress)
    net = Network.build(problem)
    allowed = eligibility(net)
    state = _start_state(net, allowed, params.initial)
    construct(net, allowed, state)
    progress.report(_score(net, state), len(state.assigned()))
    deadline = progress.began + params.time_limit_s
    for group in _groups(net, state, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            break
        sub = _subproblem(net, allowed, state, group.vehicles)
        relay = progress.relay(_outside_score(net, state, sub)) if progress.wanted else None
        routes = improve(net, sub, time_limit_s=remaining / group.share, progress=relay)
        if routes is not None:
            _adopt(net, allowed, state, group.vehicles, routes)
            progress.report(_score(net, state), len(state.assigned()))
    return _solution(net, allowed, state)


class _Progress:
    """Tells the caller each time the best score improves, timed from the start of solve."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.began = time.monotonic()
        self.best = math.inf

    @property
    def wanted(self) -> bool:
        return self.callback is not None

    def report(self, score: float, served: int) -> None:
        if self.callback is not None and score < self.best:
            self.best = score
            self.callback(score, served, time.monotonic() - self.began)

    def relay(self, outside: tuple[float, int]) -> Callable[[float, int, float], None]:
        """OR-Tools' progress on a subproblem, completed with the rest of the plan."""
        score, served = outside
        return lambda part, part_served, _elapsed: self.report(score + part, served + part_served)


def _outside_score(net: Network, state: RoutesState, sub: Subproblem) -> tuple[float, int]:
    """Score and jobs served of everything a subproblem leaves out."""
    problem = net.problem
    inside = set(sub.vehicles)
    in_sub = set(sub.jobs)
    cost = sum(state.cost(t) for t in range(len(problem.technicians)) if t not in inside)
    served = {v for t, route in enumerate(state.routes) if t not in inside for v in route}
    penalty = sum(
        problem.penalties[job.priority]
        for j, job in enumerate(problem.jobs)
        if j not in in_sub and j not in served
    )
    jobs_served = sum(1 for v in served if net.is_job(v))
    return cost / problem.ticks_per_minute + penalty, jobs_served


@dataclass(frozen=True)
class _Group:
    vehicles: tuple[int, ...]
    share: int  # groups left in this round, this one included: its part of the time left


def _groups(net: Network, state: RoutesState, deadline: float) -> Iterator[_Group]:
    """Technicians in groups of neighbours, round after round until the time is up.

    OR-Tools' break constraints stop finding a first solution beyond a few dozen
    technicians, and its search slows with size; neighbouring routes are where
    jobs move anyway. Each round shifts the group boundaries by half a group so
    that jobs can cross them.
    """
    technicians = len(net.problem.technicians)
    breaks = any(t.break_rule is not None for t in net.problem.technicians)
    if technicians <= GROUP_SIZE or (not breaks and net.n_jobs <= WHOLE_DAY_JOBS):
        yield _Group(tuple(range(technicians)), 1)
        return
    order = _by_bearing(net, state)
    count = -(-technicians // GROUP_SIZE)
    offset = 0
    while time.monotonic() < deadline:
        rotated = order[offset:] + order[:offset]
        for g in range(count):
            members = rotated[g * GROUP_SIZE : (g + 1) * GROUP_SIZE]
            yield _Group(tuple(sorted(members)), count - g)
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


def _subproblem(
    net: Network, allowed: Eligibility, state: RoutesState, vehicles: tuple[int, ...]
) -> Subproblem:
    """The group's routes, the unassigned jobs it could take, and the stock left for it."""
    local = {technician: k for k, technician in enumerate(vehicles)}
    assigned = state.assigned()
    jobs = [v for t in vehicles for v in state.routes[t] if net.is_job(v)]
    jobs += [
        j
        for j in range(net.n_jobs)
        if j not in assigned and any(t in local for t in allowed.allowed[j])
    ]
    stock = [Counter(left) for left in state.warehouse_left]
    for technician in vehicles:
        timing = state.timings[technician]
        if timing is not None:
            for position, parts in timing.pickups.items():
                stock[state.routes[technician][position] - net.n_jobs].update(parts)
    return Subproblem(
        vehicles=vehicles,
        jobs=tuple(jobs),
        allowed={j: tuple(local[t] for t in allowed.allowed[j] if t in local) for j in jobs},
        routes=tuple(tuple(state.routes[t]) for t in vehicles),
        break_starts=tuple(
            state.timings[t].break_start if state.timings[t] is not None else None
            for t in vehicles
        ),
        stock=tuple(stock),
    )


def _start_state(net: Network, allowed: Eligibility, initial: Solution | None) -> RoutesState:
    """Routes of the initial plan that are still valid, on top of the fixed jobs."""
    state = RoutesState.empty(net)
    if initial is None:
        return state
    job_node = {job.id: j for j, job in enumerate(net.problem.jobs)}
    warehouse_node = {w.id: net.warehouse_node(i) for i, w in enumerate(net.problem.warehouses)}
    technician_index = {t.id: i for i, t in enumerate(net.problem.technicians)}
    for route in initial.routes:
        technician = technician_index.get(route.technician)
        if technician is None:
            continue
        visits = list(state.routes[technician])
        for stop in route.stops:
            if stop.kind == StopKind.JOB and stop.id in job_node:
                node = job_node[stop.id]
                if node not in visits and technician in allowed.allowed[node]:
                    visits.append(node)
            elif stop.kind == StopKind.WAREHOUSE and stop.id in warehouse_node:
                visits.append(warehouse_node[stop.id])
        _commit_feasible_prefix(state, technician, visits)
    return state


def _adopt(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    vehicles: tuple[int, ...],
    routes: list[list[int]],
) -> None:
    """Take OR-Tools' routes for a group, each re-timed, unless the plan gets worse.

    Jobs a re-timed route cannot keep are inserted again wherever they fit.
    """
    before = _score(net, state)
    saved = [(list(state.routes[t]), state.timings[t]) for t in vehicles]
    saved_stock = [Counter(left) for left in state.warehouse_left]
    for technician in vehicles:
        state.clear(technician)
    for technician, visits, (old, _) in zip(vehicles, routes, saved, strict=True):
        if visits[: state.fixed[technician]] != state.routes[technician]:
            visits = old  # fixed jobs must open the route
        _commit_feasible_prefix(state, technician, visits)
    construct(net, allowed, state)
    if _score(net, state) > before:
        for technician, (visits, timing) in zip(vehicles, saved, strict=True):
            state.routes[technician], state.timings[technician] = visits, timing
        state.warehouse_left = saved_stock


def _commit_feasible_prefix(state: RoutesState, technician: int, visits: list[int]) -> None:
    """Keep the longest prefix of ``visits`` that is valid and fits the warehouses' stock."""
    for length in range(len(visits), state.fixed[technician] - 1, -1):
        prefix = visits[:length]
        timing = evaluate(state.net, technician, prefix)
        if timing is not None and state.stock_allows(technician, prefix, timing):
            if prefix:
                state.commit(technician, prefix, timing)
            return


def _score(net: Network, state: RoutesState) -> float:
    """FORMAT.md's score of a state, from the engine's own (rounded) travel times."""
    problem = net.problem
    served = state.assigned()
    cost = sum(state.cost(t) for t in range(len(problem.technicians)))
    penalty = sum(
        problem.penalties[job.priority] for j, job in enumerate(problem.jobs) if j not in served
    )
    return cost / problem.ticks_per_minute + penalty


def _solution(net: Network, allowed: Eligibility, state: RoutesState) -> Solution:
    problem = net.problem
    routes = tuple(
        _route(net, technician, state.routes[technician], timing)
        for technician, timing in enumerate(state.timings)
        if timing is not None and state.routes[technician]
    )
    served = state.assigned()
    unassigned = tuple(
        allowed.excluded.get(j) or _dropped_reason(net, allowed, state, j)
        for j in range(len(problem.jobs))
        if j not in served
    )
    return Solution(routes, unassigned)


def _route(net: Network, technician: int, visits: list[int], timing: Timing) -> Route:
    problem = net.problem
    stops = []
    for position, node in enumerate(visits):
        if position == timing.break_gap:
            stops.append(_break_stop(net, technician, timing))
        if net.is_job(node):
            kind, ident = StopKind.JOB, problem.jobs[node].id
        else:
            kind, ident = StopKind.WAREHOUSE, problem.warehouses[node - net.n_jobs].id
        stops.append(
            Stop(
                kind,
                ident,
                timing.arrivals[position],
                timing.starts[position],
                timing.ends[position],
                timing.pickups.get(position, {}),
            )
        )
    if timing.break_gap == len(visits):
        stops.append(_break_stop(net, technician, timing))
    return Route(problem.technicians[technician].id, timing.depart, timing.return_, tuple(stops))


def _break_stop(net: Network, technician: int, timing: Timing) -> Stop:
    rule = net.problem.technicians[technician].break_rule
    assert rule is not None and timing.break_start is not None
    start = timing.break_start
    return Stop(StopKind.BREAK, "", start, start, start + rule.duration)


def _dropped_reason(
    net: Network, allowed: Eligibility, state: RoutesState, job: int
) -> Unassigned:
    """Why an eligible job was left out: stock taken by other routes, or no time left."""
    problem = net.problem
    rank = PRIORITY_RANK[problem.jobs[job].priority]
    eligible = allowed.allowed[job]
    short = _stock_taken(net, state, job, eligible)
    if short is not None:
        return Unassigned(
            problem.jobs[job].id,
            Reason.PARTS_UNAVAILABLE,
            f"part {short}: no qualified van holds enough and the warehouses' stock"
            " is taken by other routes",
        )
    busier = sum(
        1
        for technician in eligible
        for v in state.routes[technician]
        if net.is_job(v) and PRIORITY_RANK[problem.jobs[v].priority] < rank
    )
    who = f"the {len(eligible)} technician(s) who could do it"
    if busier:
        message = (
            f"not enough time: {who} are booked, {busier} job(s) of higher priority displace it"
        )
    else:
        message = f"not enough time: {who} have no room for it at the hours it can be done"
    return Unassigned(problem.jobs[job].id, Reason.NOT_ENOUGH_TIME, message)


def _stock_taken(
    net: Network, state: RoutesState, job: int, eligible: tuple[int, ...]
) -> str | None:
    """A part no eligible van holds enough of and no warehouse has left, if there is one."""
    parts = net.problem.jobs[job].parts
    for sku, quantity in parts.items():
        vans = max(net.problem.technicians[t].van_stock.get(sku, 0) for t in eligible)
        left = max((stock[sku] for stock in state.warehouse_left), default=0)
        if vans < quantity and vans + left < quantity:
            return sku
    return None

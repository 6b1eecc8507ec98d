"""``solve``: one problem in, one plan out.

Eligibility first (who may do what, and why a job has nobody), then a fast
constructed plan, then searches from it for the rest of the time limit (or for
``SolveParams.iterations``), in up to ``SolveParams.workers`` search processes:
our ruin and recreate, and on days up to 400 jobs OR-Tools beside it (``_search``).
Whatever a search returns is re-timed by the same exact route schedule the
construction uses, so times, breaks and pickups come from one place.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from optimizer._construct import PRIORITY_RANK, RoutesState, construct
from optimizer._network import Network
from optimizer._parallel import runner
from optimizer._schedule import Timing
from optimizer._search import REPEATABLE_SIDE_BY_SIDE, Effort, improve_state, width
from optimizer.eligibility import Eligibility, eligibility
from optimizer.problem import Problem
from optimizer.solution import Reason, Route, Solution, Stop, StopKind, Unassigned

#: Called with (best score so far, jobs served, seconds since solve began). With an
#: incumbent the score includes the moves' cost: it is what the search minimises.
ProgressCallback = Callable[[float, int, float], None]

#: OR-Tools' search uses one core; two searches side by side where there are two cores.
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)

#: Score minutes a re-plan pays per job served away from its technician. A moved job is a
#: phone call to the customer and to both technicians, which an hour of driving saved is
#: worth; and moving a job stays cheaper than leaving it out (FORMAT.md's lowest penalty,
#: low priority's, is 200).
DEFAULT_MOVE_COST_MIN = 60.0


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How long to search, in how many processes, and whom to tell about progress.

    ``iterations`` makes the run repeatable: each search does an amount of work
    counted in iterations (an iteration is 200 rounds of our ruin and recreate,
    or for OR-Tools ten solutions of guided local search and a round of ruin and
    descent) instead of searching until the time limit, and the same problem, ``seed`` and ``iterations`` give the same plan, whatever
    ``workers`` and the machine's load (one worker runs the searches in turn). The
    time limit still caps the run; a run it stops is not repeatable. ``seed``
    chooses the ruins; without ``iterations`` the time limit decides how far each
    search gets, so runs differ anyway.

    ``workers`` is how many searches run side by side, each in a process of its
    own; with 1 the search runs in the calling process and starts none. More
    workers than cores only share the cores. ``initial`` is a plan to start from
    (the current plan when re-planning during the day): its routes are kept where
    still valid and the search improves them, free to move jobs between technicians.
    ``incumbent`` (job id -> technician id, the published plan's: see
    ``assigned_technicians``) makes each job served by anybody else cost
    ``move_cost_min`` score minutes in the search, so a re-plan moves a job only
    when that gains more; new jobs, and jobs whose technician is not in the
    problem, cost nothing. The cost steers the search only: ``check`` scores the
    plan by FORMAT.md, and ``moved_jobs`` counts the moves. OR-Tools' search under
    a time limit is not repeatable run to run; the construction is deterministic.

    Raises
    ------
    ValueError
        When the time limit or the move cost is negative or not finite, or
        ``workers`` or ``iterations`` is below 1, or ``seed`` is negative.
    TypeError
        When ``workers``, ``iterations`` or ``seed`` is not an integer.
    """

    time_limit_s: float = 30.0
    on_progress: ProgressCallback | None = None
    initial: Solution | None = None
    workers: int = DEFAULT_WORKERS
    incumbent: Mapping[str, str] | None = None
    move_cost_min: float = DEFAULT_MOVE_COST_MIN
    seed: int = 0
    iterations: int | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.time_limit_s) or self.time_limit_s < 0:
            raise ValueError(f"time_limit_s must be a finite number >= 0, got {self.time_limit_s}")
        if not math.isfinite(self.move_cost_min) or self.move_cost_min < 0:
            raise ValueError(
                f"move_cost_min must be a finite number >= 0, got {self.move_cost_min}"
            )
        if self.incumbent is not None:
            object.__setattr__(self, "incumbent", MappingProxyType(dict(self.incumbent)))
        _check_whole("workers", self.workers, least=1)
        _check_whole("seed", self.seed, least=0)
        if self.iterations is not None:
            _check_whole("iterations", self.iterations, least=1)


def _check_whole(name: str, value: object, *, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")


def solve(problem: Problem, params: SolveParams | None = None) -> Solution:
    """Plan ``problem``; every job ends up in a route or unassigned with a reason.

    Safe to call from any thread: search processes start fresh (never by forking
    the caller), so a script calling it with more than one worker keeps its
    top-level code under ``if __name__ == "__main__":``.

    Parameters
    ----------
    problem
        The day to plan.
    params
        Time limit (or iterations, for a repeatable run), search processes, progress
        callback, a plan to start from and the published plan's technician of each
        job, to keep them there.

    Returns
    -------
    Solution
        Routes that keep every hard rule, and each job left out with its reason.
    """
    params = params or SolveParams()
    progress = _Progress(params.on_progress)
    net = _with_incumbent(Network.build(problem), params)
    allowed = eligibility(net)
    effort = Effort(progress.began + params.time_limit_s, params.iterations, params.seed)
    workers = params.workers
    if params.iterations is not None:  # more processes than searches side by side would idle
        workers = min(workers, REPEATABLE_SIDE_BY_SIDE)
    # Started before the first plan is built, to be ready when it is.
    side_by_side = width(net, workers, effort.deadline - time.monotonic())
    with runner(net, allowed, side_by_side) as searches:
        state = _start_state(net, allowed, params.initial)
        construct(net, allowed, state)
        progress.report(state.score(), len(state.assigned()))
        improve_state(net, allowed, state, effort, progress.report, searches)
    return _solution(net, allowed, state)


class _Progress:
    """Tells the caller each time the best score improves, timed from the start of solve."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.began = time.monotonic()
        self.best = math.inf

    def report(self, score: float, served: int) -> None:
        if self.callback is not None and score < self.best:
            self.best = score
            self.callback(score, served, time.monotonic() - self.began)


def _with_incumbent(net: Network, params: SolveParams) -> Network:
    """The network with the incumbent technician of each job, when ``params`` gives one."""
    if not params.incumbent or not params.move_cost_min:
        return net
    problem = net.problem
    job_node = {job.id: j for j, job in enumerate(problem.jobs)}
    technician_index = {t.id: i for i, t in enumerate(problem.technicians)}
    incumbent = {
        job_node[job_id]: technician_index[technician_id]
        for job_id, technician_id in params.incumbent.items()
        if job_id in job_node and technician_id in technician_index
    }
    move_cost = round(params.move_cost_min * problem.ticks_per_minute)
    return replace(net, incumbent=incumbent, move_cost=move_cost)


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
        state.commit_valid_prefix(technician, visits)
    return state


def _solution(net: Network, allowed: Eligibility, state: RoutesState) -> Solution:
    problem = net.problem
    routes = tuple(
        timed_route(net, technician, state.routes[technician], timing)
        for technician, timing in enumerate(state.timings)
        if timing is not None and state.routes[technician]
    )
    # A route that cannot be timed holds only work under way that the day as given cannot
    # fit (its window or the shift passed, a part missing): said, never silently dropped.
    stuck = {
        v
        for technician, timing in enumerate(state.timings)
        if timing is None
        for v in state.routes[technician]
        if net.is_job(v)
    }
    served = state.assigned() - stuck
    unassigned = tuple(
        _stuck_reason(problem.jobs[j].id)
        if j in stuck
        else allowed.excluded.get(j) or _dropped_reason(net, allowed, state, j)
        for j in range(len(problem.jobs))
        if j not in served
    )
    return Solution(routes, unassigned)


def _stuck_reason(job_id: str) -> Unassigned:
    return Unassigned(
        job_id,
        Reason.NOT_ENOUGH_TIME,
        "under way, but its technician's route cannot be timed as the day stands (a window"
        " or the shift has passed, or a part is missing): a dispatcher must decide",
    )


def timed_route(net: Network, technician: int, visits: list[int], timing: Timing) -> Route:
    """The technician's route as the plan states it: ``visits`` at ``timing``, break included."""
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

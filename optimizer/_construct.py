"""A fast feasible first plan: cheapest feasible insertion, most urgent jobs first.

The plain OR-Tools model needed 12-26 s for a first solution at 600 jobs and found
none at 1,200 (the benchmark baselines); this builds one in seconds and hands it to OR-Tools
as initial routes. Every insertion is checked by the exact route timing, so the
plan is valid as built, break, parts and pickups included.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from optimizer._network import Network
from optimizer._schedule import Timing, evaluate
from optimizer.eligibility import Eligibility
from optimizer.problem import Priority

PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
#: Feasible candidates compared before an insertion is chosen (cheapest by travel first;
#: comparing stops early once no later place can be cheaper). stockholm-200x1200, 60 s:
#: 318.2k and 319.1k with 5, 320.9k with 8, 321.5k with 3; the first plan 356.8k with 5, 363.0k with 3.
CANDIDATES_COMPARED = 5
#: Share of places a blinking insertion passes over (SISR's 0.01).
BLINK_RATE = 0.01
#: Cap on route evaluations per job, so one hard job cannot stall the whole build.
MAX_EVALUATIONS = 80


@dataclass(frozen=True)
class Places:
    """The places a job may take in one route (after its jobs under way), and time bounds.

    ``table`` has a column per place and one row each (``TECHNICIAN``, ``POSITION``,
    ...) so that the places of many routes are joined in one step. Place ``k``
    lies between ``BEFORE`` and ``AFTER`` (start and end nodes included) and puts
    the job at route position ``POSITION``. ``LEAVE`` bounds from below when the
    technician can leave ``BEFORE``, ``REACH`` from above when service at ``AFTER``
    may start (at the end: arrival), breaks and parts left out since they only
    make a route later: a place these bounds refuse is infeasible, whatever the
    break does.
    """

    route: list[int]
    load: int  # the route's jobs' demand
    table: NDArray[np.int64]  # [row, place]


TECHNICIAN, POSITION, BEFORE, AFTER, LEAVE, REACH = range(6)


@dataclass
class RoutesState:
    """Routes under construction and what the warehouses have left."""

    net: Network
    routes: list[list[int]]
    timings: list[Timing | None]
    fixed: list[int]  # how many leading visits of each route may not move
    warehouse_left: list[Counter[str]] = field(default_factory=list)
    #: Each route's places for a job (``places``), with the route they were found for.
    _places: dict[int, Places] = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls, net: Network) -> RoutesState:
        technicians = net.problem.technicians
        job_node = {job.id: j for j, job in enumerate(net.problem.jobs)}
        routes = [[job_node[job_id] for job_id in t.fixed_jobs] for t in technicians]
        state = cls(
            net=net,
            routes=routes,
            timings=[None] * len(routes),
            fixed=[len(r) for r in routes],
            warehouse_left=[Counter(w.stock) for w in net.problem.warehouses],
        )
        for t, route in enumerate(routes):
            if route:
                state.timings[t] = evaluate(net, t, route)
        return state

    def cost(self, technician: int) -> int:
        timing = self.timings[technician]
        if timing is None:
            return 0
        return self.route_cost(technician, self.routes[technician], timing)

    def route_cost(self, technician: int, visits: Sequence[int], timing: Timing) -> int:
        """Ticks of travel, weighted lateness and moves (jobs taken from their incumbent)."""
        net = self.net
        travel_and_lateness = timing.cost(net.problem.lateness_weight)
        return travel_and_lateness + net.move_cost * net.moves(technician, visits)

    def score(self) -> float:
        """What the search minimises: FORMAT.md's score of the routes, plus the moves' cost.

        The score comes from the engine's own (rounded) travel times; moves cost nothing
        unless re-planning with an incumbent (``SolveParams.incumbent``).
        """
        problem = self.net.problem
        served = self.assigned()
        cost = sum(self.cost(t) for t in range(len(problem.technicians)))
        penalty = sum(
            problem.penalties[job.priority]
            for j, job in enumerate(problem.jobs)
            if j not in served
        )
        return cost / problem.ticks_per_minute + penalty

    def assigned(self) -> set[int]:
        return {v for route in self.routes for v in route if self.net.is_job(v)}

    def commit(self, technician: int, visits: list[int], timing: Timing) -> None:
        self._release(technician)
        self.routes[technician] = visits
        self.timings[technician] = timing
        for warehouse, parts in _pickups_by_warehouse(self.net, visits, timing).items():
            self.warehouse_left[warehouse] -= parts

    def snapshot(self) -> RoutesState:
        """A copy to go back to (timings are immutable and shared)."""
        return RoutesState(
            net=self.net,
            routes=[list(r) for r in self.routes],
            timings=list(self.timings),
            fixed=self.fixed,
            warehouse_left=[Counter(left) for left in self.warehouse_left],
        )

    def restore(self, saved: RoutesState) -> None:
        self.routes, self.timings = saved.routes, saved.timings
        self.warehouse_left = saved.warehouse_left

    def commit_valid_prefix(self, technician: int, visits: list[int]) -> None:
        """Keep the longest prefix of ``visits`` that is valid and fits the warehouses' stock."""
        for length in range(len(visits), self.fixed[technician] - 1, -1):
            prefix = visits[:length]
            timing = evaluate(self.net, technician, prefix)
            if timing is not None and self.stock_allows(technician, prefix, timing):
                if prefix:
                    self.commit(technician, prefix, timing)
                return

    def clear(self, technician: int) -> None:
        """Empty the route down to its fixed jobs, giving back what it picked up."""
        self._release(technician)
        fixed = self.routes[technician][: self.fixed[technician]]
        self.routes[technician] = fixed
        self.timings[technician] = evaluate(self.net, technician, fixed) if fixed else None

    def places(self, technician: int) -> Places:
        """Where a job may go in the technician's route, with the route's time bounds.

        Cached until the route changes (routes are replaced, never edited).
        """
        route = self.routes[technician]
        cached = self._places.get(technician)
        if cached is not None and cached.route is route:
            return cached
        net = self.net
        shift = net.problem.technicians[technician].shift
        rows, service = net.rows, net.service
        leave = [shift.start]
        previous = net.start_node(technician)
        for node in route:
            start = max(leave[-1] + rows[previous][node], net.window_start[node])
            leave.append(start + service[node])
            previous = node
        reach = [shift.end]
        following = net.end_node(technician)
        for node in reversed(route):
            latest = reach[-1] - rows[node][following] - service[node]
            reach.append(min(latest, net.window_end[node]))
            following = node
        reach.reverse()
        first = self.fixed[technician]
        sequence = [net.start_node(technician), *route, net.end_node(technician)]
        found = Places(
            route,
            sum(net.problem.jobs[v].demand for v in route if net.is_job(v)),
            np.array(
                [
                    [technician] * (len(route) + 1 - first),
                    range(first, len(route) + 1),
                    sequence[first:-1],
                    sequence[first + 1 :],
                    leave[first:],
                    reach[first:],
                ],
                dtype=np.int64,
            ),
        )
        self._places[technician] = found
        return found

    def stock_allows(self, technician: int, visits: list[int], timing: Timing) -> bool:
        """Would the warehouses have the extra parts this new version of the route picks up?"""
        before = self._current_pickups(technician)
        after = _pickups_by_warehouse(self.net, visits, timing)
        for warehouse, parts in after.items():
            left = self.warehouse_left[warehouse] + before.get(warehouse, Counter())
            if any(left[sku] < quantity for sku, quantity in parts.items()):
                return False
        return True

    def _current_pickups(self, technician: int) -> dict[int, Counter[str]]:
        timing = self.timings[technician]
        if timing is None:
            return {}
        return _pickups_by_warehouse(self.net, self.routes[technician], timing)

    def _release(self, technician: int) -> None:
        for warehouse, parts in self._current_pickups(technician).items():
            self.warehouse_left[warehouse] += parts


def _pickups_by_warehouse(
    net: Network, visits: Sequence[int], timing: Timing
) -> dict[int, Counter[str]]:
    totals: dict[int, Counter[str]] = {}
    for position, parts in timing.pickups.items():
        warehouse = visits[position] - net.n_jobs
        totals.setdefault(warehouse, Counter()).update(parts)
    return totals


def construct(net: Network, allowed: Eligibility, state: RoutesState | None = None) -> RoutesState:
    """Insert every eligible job not yet routed, most urgent and most constrained first."""
    state = state or RoutesState.empty(net)
    jobs = net.problem.jobs
    placed = state.assigned()
    order = sorted(
        (j for j in range(len(jobs)) if allowed.allowed[j] and j not in placed),
        key=lambda j: (
            PRIORITY_RANK[jobs[j].priority],
            len(allowed.allowed[j]),
            net.window_end[j] - net.window_start[j],
            j,
        ),
    )
    for job in order:
        insert(state, job, allowed.allowed[job])
    drop_idle_pickups(state, range(len(state.routes)))
    return state


def insert(
    state: RoutesState, job: int, technicians: Sequence[int], blinks: random.Random | None = None
) -> int | None:
    """Put ``job`` where it adds least cost among feasible places; whose route took it.

    None when there is no feasible place. On a plain day (``Network.plain``) the
    first feasible place in order of travel added is the cheapest. With ``blinks``
    each place is passed over with probability ``BLINK_RATE`` (SISR's blinks: a
    search that recreates the same ruin twice need not find the same plan).
    """
    net = state.net
    candidates = _candidates_by_detour(state, job, technicians)
    best: tuple[int, int, list[int], Timing] | None = None
    feasible = evaluations = 0
    compared = 1 if net.plain else CANDIDATES_COMPARED
    for detour, technician, position in candidates:
        if evaluations >= MAX_EVALUATIONS or feasible >= compared:
            break
        if best is not None and best[0] <= detour:
            break  # a place costs at least its detour: none from here on is cheaper
        if blinks is not None and blinks.random() < BLINK_RATE:
            continue
        route = state.routes[technician]
        for visits in variants(net, technician, route, position, job):
            evaluations += 1
            timing = evaluate(net, technician, visits)
            if timing is None or not state.stock_allows(technician, visits, timing):
                continue
            feasible += 1
            delta = state.route_cost(technician, visits, timing) - state.cost(technician)
            if best is None or delta < best[0]:
                best = (delta, technician, visits, timing)
            break
    if best is None:
        return None
    _, technician, visits, timing = best
    state.commit(technician, visits, timing)
    return technician


def _candidates_by_detour(
    state: RoutesState, job: int, technicians: Sequence[int]
) -> list[tuple[int, int, int]]:
    """Every (detour, technician, position) where the job may go, smallest detour first.

    The detour is the travel added, plus the move cost where the job is not the
    technician's in the published plan: what the place costs at least, since the
    job can only make the visits after it later. Places the routes' time bounds refuse
    (``Places``), and routes the job would overload, are left out before any exact timing.
    """
    net = state.net
    demand = net.problem.jobs[job].demand
    found = []
    empty_twins = set()
    for technician in technicians:
        if not state.routes[technician]:
            twin = net.twins[technician]
            if twin in empty_twins:
                continue  # a twin's empty route offers the same places
            empty_twins.add(twin)
        places = state.places(technician)
        capacity = net.problem.technicians[technician].capacity
        if capacity is None or places.load + demand <= capacity:
            found.append(places)
    if not found:
        return []
    table = np.concatenate([p.table for p in found], axis=1)
    before, after = table[BEFORE], table[AFTER]
    travel = net.travel
    to_job, from_job = travel[before, job], travel[job, after]
    start = np.maximum(table[LEAVE] + to_job, net.window_start[job])
    fits = (start <= net.window_end[job]) & (start + net.service[job] + from_job <= table[REACH])
    detour = to_job + from_job - travel[before, after]
    if net.move_cost and job in net.incumbent:  # the job moves from anybody else (``moves``)
        detour += net.move_cost * (table[TECHNICIAN] != net.incumbent[job])
    feasible = np.flatnonzero(fits)
    order = feasible[np.argsort(detour[feasible], kind="stable")]
    return list(
        zip(
            detour[order].tolist(),
            table[TECHNICIAN, order].tolist(),
            table[POSITION, order].tolist(),
            strict=True,
        )
    )


def variants(
    net: Network, technician: int, route: list[int], position: int, job: int
) -> list[list[int]]:
    """The route with the job at ``position``; if the van lacks its parts, also via a warehouse.

    A warehouse call is only added when no earlier call on the route can pick the
    parts up (the schedule adds shortfalls to the latest earlier call).
    """
    plain = [*route[:position], job, *route[position:]]
    parts = net.problem.jobs[job].parts
    if not parts or any(not net.is_job(v) for v in route[:position]):
        return [plain]
    van = net.problem.technicians[technician].van_stock
    used: Counter[str] = Counter()
    for v in route[:position]:
        used.update(net.problem.jobs[v].parts)
    if all(van.get(sku, 0) - used[sku] >= quantity for sku, quantity in parts.items()):
        return [plain]
    previous = route[position - 1] if position else net.start_node(technician)
    # One call per warehouse and route: the OR-Tools model has one call node for each.
    called = {v for v in route if not net.is_job(v)}
    warehouses = sorted(
        (w for w in range(net.n_warehouses) if net.warehouse_node(w) not in called),
        key=lambda w: (
            net.travel[previous, net.warehouse_node(w)] + net.travel[net.warehouse_node(w), job]
        ),
    )
    return [plain] + [
        [*route[:position], net.warehouse_node(w), job, *route[position:]] for w in warehouses
    ]


def drop_idle_pickups(state: RoutesState, technicians: Iterable[int]) -> None:
    """Remove warehouse calls that ended up picking nothing up from these technicians' routes."""
    net = state.net
    for technician in technicians:
        timing = state.timings[technician]
        if timing is None:
            continue
        idle = {p for p, parts in timing.pickups.items() if not parts}
        if idle:
            visits = [v for p, v in enumerate(state.routes[technician]) if p not in idle]
            if not visits:
                state.clear(technician)  # an empty route has no timing
                continue
            shorter = evaluate(net, technician, visits)
            if shorter is not None:
                state.commit(technician, visits, shorter)

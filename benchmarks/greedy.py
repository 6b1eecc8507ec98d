"""The greedy dispatcher: the simplest plan a dispatcher could make, as a baseline.

Jobs go out in priority order (emergency, high, normal, low; ties by earliest
window end, then id). Each is appended to the end of the route where it adds the
least travel, among the technicians for whom the append keeps every hard rule of
FORMAT.md. Nothing is ever inserted mid-route or moved afterwards: this is what
working down a list by hand gives, so the engine has to beat it clearly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from optimizer import (
    Break,
    Job,
    Priority,
    Problem,
    Reason,
    Route,
    Solution,
    Stop,
    StopKind,
    Technician,
    Unassigned,
    Warehouse,
    may_serve,
    travel_matrix,
)

FAR = 10**15  # an open end of a window, in ticks
DISPATCH_ORDER = (Priority.EMERGENCY, Priority.HIGH, Priority.NORMAL, Priority.LOW)


def greedy_solution(problem: Problem) -> Solution:
    """Plan the day the greedy way; every job ends up in a route or unassigned with a reason."""
    return _Greedy(problem).run()


def dispatch_key(job: Job) -> tuple[int, int, str]:
    """Priority first, then the job whose window closes first, then the id (deterministic)."""
    closes = job.window.end if job.window is not None else FAR
    return DISPATCH_ORDER.index(job.priority), closes, job.id


@dataclass(frozen=True)
class _Visit:
    """A stop to append: where it is, how long it takes, when it may start."""

    kind: StopKind | None  # None: the way home
    id: str
    node: int
    service: int
    opens: int
    closes: int
    pickup: Mapping[str, int] = field(default_factory=dict)


@dataclass
class _Route:
    """A technician's day so far; the way home (and a break not yet taken) is added at the end."""

    technician: Technician
    node: int  # where the technician is after the last stop
    free: int  # when the last stop ends
    van: dict[str, int]
    stops: list[Stop] = field(default_factory=list)
    load: int = 0
    break_taken: bool = False


@dataclass(frozen=True)
class _Walk:
    """What appending some visits would give: the new stops and the cost of the change."""

    stops: list[Stop]  # the appended stops, with a break taken on the way
    tail: list[Stop]  # the break, when it only fits on the way home (left for later)
    node: int
    free: int
    break_taken: bool
    added_travel: int  # new legs and new way home, minus the old way home
    return_: int


class _Greedy:
    """Holds the routes, the warehouse stock left, and the jobs left out."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.nodes = travel_matrix(problem)
        self.stock = {w.id: dict(w.stock) for w in problem.warehouses}
        self.routes = [
            _Route(t, self.nodes.start[t.id], t.shift.start, dict(t.van_stock))
            for t in problem.technicians
        ]
        self.unassigned: list[Unassigned] = []

    def run(self) -> Solution:
        # Jobs already under way open their technician's route, whatever their priority.
        fixed = set()
        for route in self.routes:
            for job_id in route.technician.fixed_jobs:
                fixed.add(job_id)
                self.place(self.problem.job(job_id), [route])
        for job in sorted((j for j in self.problem.jobs if j.id not in fixed), key=dispatch_key):
            self.place(job, self.routes)
        routes = tuple(self.finish(route) for route in self.routes if route.stops)
        return Solution(routes=routes, unassigned=tuple(self.unassigned))

    def place(self, job: Job, routes: Sequence[_Route]) -> None:
        """Append ``job`` where it adds least travel, or record why it fits nowhere."""
        skilled = [r for r in routes if may_serve(r.technician, job)]
        causes: set[Reason] = set()
        best: tuple[int, _Route, _Walk, list[_Visit]] | None = None
        for route in skilled:
            capacity = route.technician.capacity
            if capacity is not None and route.load + job.demand > capacity:
                causes.add(Reason.CAPACITY)
                continue
            missing = {
                sku: need - route.van.get(sku, 0)
                for sku, need in job.parts.items()
                if need > route.van.get(sku, 0)
            }
            if not missing:
                calls: list[list[_Visit]] = [[]]
            else:
                calls = [
                    [self.pickup_visit(w, missing)]
                    for w in self.problem.warehouses
                    if all(self.stock[w.id].get(sku, 0) >= n for sku, n in missing.items())
                ]
            if not calls:
                causes.add(Reason.PARTS_UNAVAILABLE)
            for call in calls:
                walk = self.walk(route, [*call, self.job_visit(job)])
                if walk is None:
                    causes.add(Reason.NOT_ENOUGH_TIME)
                elif best is None or walk.added_travel < best[0]:
                    best = (walk.added_travel, route, walk, call)
        if best is None:
            self.unassigned.append(_unassigned(job, bool(skilled), causes))
            return
        _, route, walk, call = best
        route.stops += walk.stops
        route.node, route.free, route.break_taken = walk.node, walk.free, walk.break_taken
        route.load += job.demand
        for visit in call:
            for sku, quantity in visit.pickup.items():
                self.stock[visit.id][sku] -= quantity
                route.van[sku] = route.van.get(sku, 0) + quantity
        for sku, quantity in job.parts.items():
            route.van[sku] -= quantity

    def finish(self, route: _Route) -> Route:
        """Close the route: the way home, and the break if it was left for the end."""
        walk = self.walk(route, [])
        # The last append checked this very walk, so it cannot fail now.
        assert walk is not None, route.technician.id
        technician = route.technician
        return Route(
            technician=technician.id,
            depart=technician.shift.start,
            return_=walk.return_,
            stops=tuple(route.stops + walk.tail),
        )

    def job_visit(self, job: Job) -> _Visit:
        window = job.window
        return _Visit(
            StopKind.JOB,
            job.id,
            self.nodes.job[job.id],
            job.service,
            window.start if window else -FAR,
            window.end if window else FAR,
        )

    def pickup_visit(self, warehouse: Warehouse, parts: Mapping[str, int]) -> _Visit:
        # The pickup has to end before the warehouse closes.
        return _Visit(
            StopKind.WAREHOUSE,
            warehouse.id,
            self.nodes.warehouse[warehouse.id],
            warehouse.pickup_service,
            warehouse.hours.start,
            warehouse.hours.end - warehouse.pickup_service,
            parts,
        )

    def walk(self, route: _Route, visits: list[_Visit]) -> _Walk | None:
        """Append ``visits`` and go home, with exact times; None when a hard rule breaks.

        Only the window/shift/break rules are checked here: skills, capacity and
        parts were settled before a visit list was built.
        """
        technician = route.technician
        rule = technician.break_rule
        matrix = self.nodes.ticks
        home = self.nodes.end[technician.id]
        way_home = _Visit(None, "", home, 0, -FAR, technician.shift.end)
        time, here, taken = route.free, route.node, route.break_taken or rule is None
        stops: list[Stop] = []
        tail: list[Stop] = []
        travel = 0
        for visit in [*visits, way_home]:
            leg = int(matrix[here, visit.node])
            travel += leg
            arrival = ready = time + leg
            if not taken:
                assert rule is not None
                last_chance = visit is way_home or (
                    max(arrival, visit.opens) + visit.service > rule.window.end
                )
                pause = _break_in_gap(rule, time, leg, visit.opens, last_chance)
                if pause is None and last_chance:
                    return None
                if pause is not None:
                    (tail if visit is way_home else stops).append(pause)
                    taken = visit is not way_home
                    if pause.start < arrival:  # taken before the leg, which then starts later
                        arrival = pause.end + leg
                    ready = max(arrival, pause.end)
            start = max(ready, visit.opens)
            if start > visit.closes:
                return None
            if visit is way_home:
                return _Walk(
                    stops,
                    tail,
                    here,
                    time,
                    taken,
                    travel - int(matrix[route.node, home]),
                    start,
                )
            assert visit.kind is not None
            end = start + visit.service
            stops.append(Stop(visit.kind, visit.id, arrival, start, end, visit.pickup))
            time, here = end, visit.node
        raise AssertionError("the way home always ends the walk")


def _break_in_gap(rule: Break, free: int, leg: int, opens: int, last_chance: bool) -> Stop | None:
    """The break in the gap before the next leg, or None to leave it for a later gap.

    The technician can pause right before the leg (where they are, from ``free``)
    or on arrival (while waiting for the stop to open). The break goes into the
    first gap where it fits: its window is already open, or it fits into the wait,
    or this is the last gap before the window closes.
    """
    window = rule.window
    before = max(free, window.start)
    on_arrival = max(free + leg, window.start)
    options = []  # (when the next stop could start, break start, where it is reached)
    if before <= window.end:
        options.append((before + rule.duration + leg, before, free))
    if on_arrival <= window.end:
        options.append((on_arrival + rule.duration, on_arrival, free + leg))
    if not options:
        return None
    ready, start, reached = min(options)
    if last_chance or ready <= opens or window.start <= free:
        return Stop(StopKind.BREAK, "", reached, start, start + rule.duration)
    return None


def _unassigned(job: Job, anyone_skilled: bool, causes: set[Reason]) -> Unassigned:
    """The reason a dispatcher can act on, most specific first."""
    if not anyone_skilled:
        if job.pinned_to is not None:
            text = f"pinned technician {job.pinned_to} lacks a skill of {sorted(job.skills)}"
        else:
            text = f"no technician has all of the skills {sorted(job.skills)}"
        return Unassigned(job.id, Reason.NO_SKILLED_TECHNICIAN, text)
    if Reason.NOT_ENOUGH_TIME in causes:
        text = "no qualified technician has time for it within its window and shift"
        return Unassigned(job.id, Reason.NOT_ENOUGH_TIME, text)
    if Reason.PARTS_UNAVAILABLE in causes:
        text = f"parts {dict(job.parts)} are in no qualified van and no warehouse has them left"
        return Unassigned(job.id, Reason.PARTS_UNAVAILABLE, text)
    return Unassigned(job.id, Reason.CAPACITY, "no qualified van has room for its demand")

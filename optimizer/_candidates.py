"""Emergency insertion: who could take one new job in today's plan, and when, best first.

A dispatcher on the phone with a customer needs "when" in well under a second, so
nothing is re-planned. Each technician who may do the job gets it at the best place
in their current route, every place timed by the exact route schedule that builds
every plan (windows, shift, break, parts and warehouse calls, capacity), and the
technicians are ranked by how much the plan's score (FORMAT.md) rises. Only the legs
those routes can use are computed, not the whole day's travel matrix, which alone
took a fifth of a second on a 600-job day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer._construct import variants
from optimizer._network import Network, places
from optimizer._schedule import Timing, evaluate
from optimizer.eligibility import job_eligibility, may_serve
from optimizer.problem import Problem
from optimizer.solution import Reason, Route, Solution, StopKind, Unassigned
from optimizer.solve import timed_route

#: Travel ticks of a leg nobody computed: any route that used one would miss its shift.
UNKNOWN_LEG = 10**15

#: Parts taken from a warehouse: (warehouse node, SKU) -> quantity.
Taken = Counter[tuple[int, str]]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One technician's best way to take the new job, and what it does to the plan.

    Times and durations are ticks (seconds on a service day), like the plan's.
    ``position`` counts the technician's jobs before the new one. ``delay`` sums how
    much later each of their other jobs now starts, ``added_lateness`` how much more
    those jobs finish after their SLA due times, and ``lateness`` is how long after
    its own due time the new job finishes (its window, a hard rule, is always kept).
    ``score_change`` is the FORMAT.md score with the job in this route minus the score
    with it unassigned. ``warehouse_call`` is the warehouse where the technician picks
    up parts for it (a new call, or more at one already planned), or None when the van
    holds them. ``route`` is the technician's whole route with the job, ready to
    replace the current one (``apply_candidate``).
    """

    job: str
    technician: str
    position: int
    arrival: int
    start: int
    end: int
    added_travel: int
    delay: int
    added_lateness: int
    lateness: int
    score_change: float
    warehouse_call: str | None
    route: Route


def insertion_candidates(
    problem: Problem, solution: Solution, job_id: str, *, limit: int | None = 10
) -> list[Candidate]:
    """The technicians who could take job ``job_id`` in ``solution``, least score added first.

    Each gets the job at the best place in their route after the jobs they have
    under way (``Technician.fixed_jobs``); nobody else's route changes.

    Parameters
    ----------
    problem
        The day, including the new job.
    solution
        The current plan, with the job unassigned or not in it at all.
    job_id
        The new job.
    limit
        At most this many candidates (None: every technician who could take it).

    Returns
    -------
    list[Candidate]
        Ranked by ``score_change``, then by start; empty when nobody can take the
        job (``why_no_candidate`` says why).

    Raises
    ------
    ValueError
        When ``limit`` is below 1, the job is not one of the day's, is in a route
        already or under way, or the plan names jobs, warehouses or technicians the
        problem does not have.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return _Insertion(problem, solution, job_id).ranked()[:limit]


def why_no_candidate(problem: Problem, solution: Solution, job_id: str) -> Unassigned | None:
    """Why nobody can take job ``job_id`` in ``solution``; None when someone can.

    The reasons of ``solve``'s unassigned jobs when no technician could do the job
    even alone (skills, pin, shift, window, parts); otherwise the plan's routes or
    the warehouses' remaining stock leave no room for it.

    Raises
    ------
    ValueError
        As ``insertion_candidates``.
    """
    return _Insertion(problem, solution, job_id).reason()


def apply_candidate(solution: Solution, candidate: Candidate) -> Solution:
    """``solution`` with the candidate's route in place of the technician's, the job served.

    The candidate must come from this very plan: on a plan changed since, ask again.
    """
    others = tuple(r for r in solution.routes if r.technician != candidate.technician)
    unassigned = tuple(u for u in solution.unassigned if u.job != candidate.job)
    return Solution((*others, candidate.route), unassigned)


class _Insertion:
    """One question: the routes of the plan as node lists, and the legs they can use."""

    def __init__(self, problem: Problem, solution: Solution, job_id: str) -> None:
        self.problem = problem
        self.job = _new_job_node(problem, solution, job_id)
        self.routes = _visits(problem, solution)
        self.taken, self.taken_by = _taken(problem, solution)
        new_job = problem.jobs[self.job]
        skilled = [t for t, tech in enumerate(problem.technicians) if may_serve(tech, new_job)]
        self.net = _partial_network(problem, self.routes, skilled, self.job)
        self.eligible, self.excluded = job_eligibility(self.net, self.job)
        self.stock_refused = False

    def ranked(self) -> list[Candidate]:
        found = [self._best_for(t) for t in self.eligible]
        return sorted(
            (c for c in found if c is not None),
            key=lambda c: (c.score_change, c.start, c.technician),
        )

    def reason(self) -> Unassigned | None:
        if self.excluded is not None:
            return self.excluded
        if self.ranked():
            return None
        job_id = self.problem.jobs[self.job].id
        who = f"the {len(self.eligible)} technician(s) who could do it"
        if self.stock_refused:
            return Unassigned(
                job_id,
                Reason.PARTS_UNAVAILABLE,
                f"{who} would need parts the warehouses have left for other routes",
            )
        return Unassigned(
            job_id, Reason.NOT_ENOUGH_TIME, f"{who} have no room for it in the current plan"
        )

    def _best_for(self, technician: int) -> Candidate | None:
        """The technician's cheapest feasible insertion, every place and warehouse tried."""
        net, route = self.net, self.routes[technician]
        before = evaluate(net, technician, route) if route else None
        if route and before is None:
            return None  # a route the schedule cannot time (edited by hand): leave it be
        weight = self.problem.lateness_weight
        best: tuple[tuple[int, int], list[int], Timing] | None = None
        first = len(self.problem.technicians[technician].fixed_jobs)
        for position in range(first, len(route) + 1):
            for visits in variants(net, technician, route, position, self.job):
                timing = evaluate(net, technician, visits)
                if timing is None:
                    continue
                if not self._stock_allows(technician, visits, timing):
                    self.stock_refused = True
                    continue
                key = (timing.cost(weight), timing.starts[visits.index(self.job)])
                if best is None or key < best[0]:
                    best = (key, visits, timing)
        if best is None:
            return None
        return self._candidate(technician, before, best[1], best[2])

    def _stock_allows(self, technician: int, visits: list[int], timing: Timing) -> bool:
        """The route's pickups fit in what the other routes leave in the warehouses."""
        warehouses = self.problem.warehouses
        for (node, sku), quantity in _picked(visits, timing).items():
            stock = warehouses[node - self.net.n_jobs].stock.get(sku, 0)
            others = self.taken[node, sku] - self.taken_by[technician][node, sku]
            if quantity > stock - others:
                return False
        return True

    def _candidate(
        self, technician: int, before: Timing | None, visits: list[int], after: Timing
    ) -> Candidate:
        net, problem = self.net, self.problem
        route = self.routes[technician]
        at = visits.index(self.job)
        due = net.due[self.job]
        lateness = 0 if due is None else max(0, after.ends[at] - due)
        started = {} if before is None else dict(zip(route, before.starts, strict=True))
        delay = sum(
            max(0, start - started[node])
            for node, start in zip(visits, after.starts, strict=True)
            if net.is_job(node) and node != self.job
        )
        old_travel = 0 if before is None else before.travel
        old_lateness = 0 if before is None else before.lateness
        old_cost = 0 if before is None else before.cost(problem.lateness_weight)
        added_cost = after.cost(problem.lateness_weight) - old_cost
        penalty = problem.penalties[problem.jobs[self.job].priority]
        return Candidate(
            job=problem.jobs[self.job].id,
            technician=problem.technicians[technician].id,
            position=sum(1 for node in visits[:at] if net.is_job(node)),
            arrival=after.arrivals[at],
            start=after.starts[at],
            end=after.ends[at],
            added_travel=after.travel - old_travel,
            delay=delay,
            added_lateness=after.lateness - lateness - old_lateness,
            lateness=lateness,
            score_change=added_cost / problem.ticks_per_minute - penalty,
            warehouse_call=self._warehouse_call(route, before, visits, after),
            route=timed_route(net, technician, visits, after),
        )

    def _warehouse_call(
        self, route: list[int], before: Timing | None, visits: list[int], after: Timing
    ) -> str | None:
        """The first warehouse on the route that picks up more once the job is in it."""
        had = Counter() if before is None else _picked(route, before)
        more = {node for (node, sku), n in _picked(visits, after).items() if n > had[node, sku]}
        node = next((v for v in visits if v in more), None)
        return None if node is None else self.problem.warehouses[node - self.net.n_jobs].id


def _new_job_node(problem: Problem, solution: Solution, job_id: str) -> int:
    """The node of the job to insert, refused when it is unknown, planned or under way."""
    node = next((j for j, job in enumerate(problem.jobs) if job.id == job_id), None)
    if node is None:
        raise ValueError(f"job {job_id!r} is not one of the day's jobs")
    for technician in problem.technicians:
        if job_id in technician.fixed_jobs:
            raise ValueError(f"job {job_id} is under way with {technician.id}")
    for route in solution.routes:
        if job_id in route.job_ids:
            raise ValueError(f"job {job_id} is in {route.technician}'s route already")
    return node


def _visits(problem: Problem, solution: Solution) -> list[list[int]]:
    """Each technician's route as the nodes it visits (jobs and warehouse calls), in order."""
    job_node = {job.id: j for j, job in enumerate(problem.jobs)}
    warehouse_node = {w.id: len(problem.jobs) + i for i, w in enumerate(problem.warehouses)}
    index = {t.id: i for i, t in enumerate(problem.technicians)}
    routes: list[list[int]] = [[] for _ in problem.technicians]
    for route in solution.routes:
        if route.technician not in index:
            raise ValueError(
                f"the plan has a route for {route.technician}, not a technician today"
            )
        visits = routes[index[route.technician]]
        for stop in route.stops:
            if stop.kind == StopKind.BREAK:
                continue
            nodes = job_node if stop.kind == StopKind.JOB else warehouse_node
            if stop.id not in nodes:
                raise ValueError(
                    f"{route.technician}'s route visits {stop.kind.value} {stop.id},"
                    " which is not one of the day's"
                )
            visits.append(nodes[stop.id])
    return routes


def _taken(problem: Problem, solution: Solution) -> tuple[Taken, list[Taken]]:
    """Parts the plan picks up at warehouses: in all, and by each technician."""
    warehouse_node = {w.id: len(problem.jobs) + i for i, w in enumerate(problem.warehouses)}
    index = {t.id: i for i, t in enumerate(problem.technicians)}
    total: Taken = Counter()
    by_technician: list[Taken] = [Counter() for _ in problem.technicians]
    for route in solution.routes:
        for stop in route.stops:
            if stop.kind == StopKind.WAREHOUSE:
                for sku, quantity in stop.pickup.items():
                    key = (warehouse_node[stop.id], sku)
                    total[key] += quantity
                    by_technician[index[route.technician]][key] += quantity
    return total, by_technician


def _picked(visits: Sequence[int], timing: Timing) -> Taken:
    picked: Taken = Counter()
    for position, parts in timing.pickups.items():
        for sku, quantity in parts.items():
            picked[visits[position], sku] += quantity
    return picked


def _partial_network(
    problem: Problem, routes: list[list[int]], technicians: list[int], job: int
) -> Network:
    """The day's network holding only the legs an insertion of ``job`` can use.

    Those are the legs among each given technician's start, end, route, the job and
    the warehouses: one small matrix per technician, instead of the day's.
    """
    where = places(problem)
    size = len(where)
    net = Network.build(problem, np.full((size, size), UNKNOWN_LEG, dtype=np.int64))
    warehouses = [net.warehouse_node(w) for w in range(net.n_warehouses)]
    for technician in technicians:
        nodes = [
            net.start_node(technician),
            net.end_node(technician),
            *routes[technician],
            job,
            *warehouses,
        ]
        net.travel[np.ix_(nodes, nodes)] = problem.travel.matrix([where[n] for n in nodes])
    return net

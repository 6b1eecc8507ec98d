"""Ruin and recreate in our own code: the search that scales to the largest days.

OR-Tools' local search costs a descent per round (0.2 s at 100 jobs, seconds at
1,200), so on a large day it only ever saw groups of 20 technicians. Here a round
is a ruin (``_ruin``: strings of neighbouring jobs) and a recreate by cheapest
insertion, each job tried only in the routes of the technicians nearest it (their
routes hold its nearest jobs, or they start close by: a granular neighbourhood),
each promising place timed by the exact route schedule, and now and then the
cheapest place passed over (SISR's blinks). A round costs
milliseconds, so thousands of them improve every part of the day, and a worse
plan is accepted now and then (simulated annealing, cooling as the time runs
out) so that the search gets out of local optima. This is SISR's scheme
(Christiaens and Vanden Berghe, Transportation Science 2020) on our schedule.
A job that finds no place may put a less urgent job near it out of its route
(an ejection), which goes back in the queue: on a busy day a normal job left out
is worth more than a low one served, and the ruins alone seldom trade them.

The score is FORMAT.md's, plus the moves' cost when re-planning: the same
``RoutesState.route_cost`` and priority penalties as everywhere else.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from optimizer._construct import PRIORITY_RANK, RoutesState, drop_idle_pickups, insert
from optimizer._network import Network
from optimizer._parallel import Report
from optimizer._ruin import ruin
from optimizer._schedule import Timing, evaluate
from optimizer.eligibility import Eligibility

#: Nearest jobs whose technicians a job is offered to when it is put back.
NEIGHBOUR_JOBS = 30
#: Technicians starting nearest a job, offered it too (their routes may be empty).
NEIGHBOUR_STARTS = 3
#: Start and end temperature of the annealing, as shares of the mean cost per job served.
#: (One search, 25-30 s: Homberger rc1_4_1 8,882 with 3.0 to 0.03, 8,931 with 10 to 0.1,
#: 8,973 with 1.0 to 0.01, 9,009 with 0.3 to 0.003; stockholm-200x1200 345k with 3.0, 349k
#: with 1.0; madrid-100x600 69.3k with 3.0, 68.0k with 1.0, runs differing by ~1.5k.)
START_TEMPERATURE = 3.0
END_TEMPERATURE = 0.03
#: Share of rounds that ruin around a job left out, in the routes of the technicians who
#: could take it: a day short of specialists leaves out jobs only a few can do, and random
#: ruins seldom make room for them in those few routes.
MAKE_ROOM_SHARE = 0.3
#: A job at most this many technicians may do is offered to all of them, near or not: their
#: routes seldom hold its nearest jobs. (madrid-100x600, one search, 25 s: 73.3k offering it
#: only to near technicians, 69.6k with 12, 68.3k with 25, 68.2k with 50 in fewer rounds.)
FEW_TECHNICIANS = 25
#: Less urgent jobs, nearest first, that a job with no place may take the place of.
#: (stockholm-200x1200, 60 s: 309.8k and 311.3k with 8, 312.1k with 4, 312.9k with 16;
#: 318-321k with none.)
EJECTIONS_TRIED = 8
#: Rounds of ruin and recreate per iteration of a repeatable run.
ROUNDS_PER_ITERATION = 200


@dataclass(frozen=True)
class Budget:
    """Until when to search, or for how many rounds (a repeatable run).

    ``cooling``: the part of the annealing schedule this budget covers (a large
    day is searched in rounds, and the temperature goes down once over all of them).
    """

    deadline: float
    rounds: int | None = None
    cooling: tuple[float, float] = (0.0, 1.0)

    def share_done(self, started: float, round_: int) -> float | None:
        """How much of the budget is spent (0 to 1), or None when it is all spent."""
        if self.rounds is not None:
            done = round_ / self.rounds
        else:
            done = (time.monotonic() - started) / max(1e-9, self.deadline - started)
        return None if done >= 1 or time.monotonic() >= self.deadline else done


def ruin_and_recreate(
    net: Network,
    allowed: Eligibility,
    state: RoutesState,
    vehicles: tuple[int, ...],
    offered: Iterable[int],
    budget: Budget,
    rng: random.Random,
    report: Report,
) -> None:
    """Improve ``vehicles``' routes in ``state`` for ``budget``; ``state`` ends on the best plan.

    ``offered`` are the jobs these routes may serve: those on them and the
    unassigned ones no other search is offered. ``report`` receives the score of
    that part of the plan (routes and the offered jobs left out) and the jobs it serves.
    """
    search = _Search(net, allowed, state, vehicles, set(offered), rng)
    started = time.monotonic()
    round_ = 0
    while (done := budget.share_done(started, round_)) is not None:
        cooled = budget.cooling[0] + done * (budget.cooling[1] - budget.cooling[0])
        temperature = (
            search.scale * START_TEMPERATURE * (END_TEMPERATURE / START_TEMPERATURE) ** cooled
        )
        if not search.round(temperature):
            break  # nothing that may move
        if search.improved:
            report(search.best_score / net.problem.ticks_per_minute, search.best_served)
        round_ += 1
    search.finish()


class _Search:
    """The current plan of a group of technicians, its best so far, and one round at a time."""

    def __init__(
        self,
        net: Network,
        allowed: Eligibility,
        state: RoutesState,
        vehicles: tuple[int, ...],
        offered: set[int],
        rng: random.Random,
    ) -> None:
        self.net, self.state, self.vehicles, self.rng = net, state, vehicles, rng
        group = set(vehicles)
        problem = net.problem
        self.allowed = {j: frozenset(t for t in allowed.allowed[j] if t in group) for j in offered}
        self.penalty = {
            j: problem.penalties[problem.jobs[j].priority] * problem.ticks_per_minute
            for j in offered
        }
        self.near_jobs, self.near_starts = _neighbours(net, sorted(offered), vehicles)
        self.owner = {v: t for t in vehicles for v in state.routes[t] if net.is_job(v)}
        self.unassigned = {j for j in offered if j not in self.owner and self.allowed[j]}
        self.costs = {t: state.cost(t) for t in vehicles}
        left_out = sum(self.penalty[j] for j in offered if j not in self.owner)
        self.score = float(sum(self.costs.values()) + left_out)
        served = len(self.owner)
        self.scale = sum(self.costs.values()) / max(1, served)
        self.best_score, self.best_served = self.score, served
        self.best = self._copy()
        self.improved = False

    def round(self, temperature: float) -> bool:
        """One ruin and recreate, kept or undone by the annealing rule; False if none can be."""
        state, rng = self.state, self.rng
        saved = self._copy()
        wanted: list[int] = []
        if self.unassigned and rng.random() < MAKE_ROOM_SHARE:
            wanted = [rng.choice(sorted(self.unassigned))]
            removed = ruin(state, tuple(sorted(self.allowed[wanted[0]])), rng, wanted[0])
            if not removed:
                return True  # the technicians who could take it have only jobs under way
        else:
            removed = ruin(state, self.vehicles, rng)
            if not removed:
                return False
        for job in removed:
            self.owner.pop(job, None)
        queue = self._recreate_order(removed, wanted)
        while queue:
            job = queue.pop(0)
            candidates = self._candidates(job)
            technician = insert(state, job, candidates, rng)
            if technician is None:
                technician, ejected = self._eject(job, candidates)
                if ejected is not None:
                    self.owner.pop(ejected)
                    queue.append(ejected)
            if technician is not None:
                self.owner[job] = technician
        touched = [t for t in self.vehicles if state.routes[t] is not saved.routes[t]]
        drop_idle_pickups(state, touched)
        change = self._change(saved, touched)
        threshold = -temperature * math.log(1 - self.rng.random())
        self.improved = False
        if change < threshold:
            self._accept(saved, touched, change)
        else:
            self._undo(saved, touched)
        return True

    def finish(self) -> None:
        """Leave ``state`` on the best plan found."""
        self._restore(self.best)

    def _recreate_order(self, removed: Sequence[int], wanted: list[int]) -> list[int]:
        """The removed jobs, ``wanted`` and the unassigned ones nearest them, most urgent first.

        Within a priority, at random or tightest window first, alternately (SISR's
        sorts, with those that suit time windows).
        """
        net = self.net
        near = [j for j in self._unassigned_near(removed) if j not in wanted]
        jobs = list(removed) + wanted + near
        if self.rng.random() < 0.5:
            tie = {j: self.rng.random() for j in jobs}
        else:
            tie = {j: float(net.window_end[j] - net.window_start[j]) for j in jobs}
        rank = {j: PRIORITY_RANK[net.problem.jobs[j].priority] for j in jobs}
        return sorted(jobs, key=lambda j: (rank[j], tie[j]))

    def _unassigned_near(self, removed: Sequence[int]) -> list[int]:
        """As many unassigned jobs as were removed, those nearest the removed ones."""
        waiting = sorted(self.unassigned)
        if not waiting:
            return []
        distance = self.net.travel[np.ix_(waiting, list(removed))].min(axis=1)
        nearest = np.argsort(distance, kind="stable")[: len(removed)]
        return [waiting[k] for k in nearest.tolist()]

    def _eject(self, job: int, candidates: list[int]) -> tuple[int | None, int | None]:
        """Seat ``job`` in place of a less urgent job near it, if that beats leaving it out.

        Returns whose route took it and the job put out, or (None, None).
        """
        state, net, penalty = self.state, self.net, self.penalty
        options = [
            (net.travel[other, job] + net.travel[job, other], technician, other)
            for technician in candidates
            for other in state.routes[technician][state.fixed[technician] :]
            if net.is_job(other) and penalty[other] < penalty[job]
        ]
        best: tuple[int, int, int, list[int], Timing] | None = None
        for _, technician, other in sorted(options)[:EJECTIONS_TRIED]:
            route, timing = state.routes[technician], state.timings[technician]
            assert timing is not None, "the route holds the job to put out"
            before = state.cost(technician)
            shorter = [v for v in route if v != other]
            if shorter:
                shorter_timing = evaluate(net, technician, shorter)
                if shorter_timing is None or not state.stock_allows(
                    technician, shorter, shorter_timing
                ):
                    continue
                state.commit(technician, shorter, shorter_timing)
            else:
                state.clear(technician)
            if insert(state, job, [technician]) is not None:
                change = state.cost(technician) - before + penalty[other]
                seated = state.timings[technician]
                assert seated is not None
                if change < penalty[job] and (best is None or change < best[0]):
                    best = (change, technician, other, state.routes[technician], seated)
            state.commit(technician, route, timing)
        if best is None:
            return None, None
        _, technician, other, visits, new_timing = best
        state.commit(technician, visits, new_timing)
        return technician, other

    def _candidates(self, job: int) -> list[int]:
        """Technicians whose routes hold the job's nearest jobs or who start near it."""
        allowed = self.allowed[job]
        if len(allowed) <= FEW_TECHNICIANS:
            return sorted(allowed)
        found = {self.owner[n] for n in self.near_jobs[job] if n in self.owner}
        found.update(self.near_starts[job])
        return sorted(found & allowed)

    def _change(self, saved: _Copy, touched: list[int]) -> float:
        """How much the round changed the score: touched routes' costs, jobs gained or lost."""
        state, net = self.state, self.net
        change = sum(state.cost(t) - self.costs[t] for t in touched)
        before = {v for t in touched for v in saved.routes[t] if net.is_job(v)}
        after = {v for t in touched for v in state.routes[t] if net.is_job(v)}
        lost = before - after
        gained = {j for j in after - before if j in self.unassigned}
        change += sum(self.penalty[j] for j in lost) - sum(self.penalty[j] for j in gained)
        return change

    def _accept(self, saved: _Copy, touched: list[int], change: float) -> None:
        state = self.state
        for t in touched:
            self.costs[t] = state.cost(t)
        self._reassign(saved.routes, state.routes, touched)
        self.unassigned = {j for j in self.allowed if j not in self.owner and self.allowed[j]}
        self.score += change
        if self.score < self.best_score - 1e-9:
            self.best_score, self.best_served = self.score, len(self.owner)
            self.best = self._copy()
            self.improved = True

    def _undo(self, saved: _Copy, touched: list[int]) -> None:
        self._reassign(self.state.routes, saved.routes, touched)
        self._restore(saved)

    def _reassign(
        self,
        old: Mapping[int, list[int]] | list[list[int]],
        new: Mapping[int, list[int]] | list[list[int]],
        touched: list[int],
    ) -> None:
        """Owners of the touched routes' jobs, from their ``old`` versions to their ``new``."""
        net = self.net
        for t in touched:
            for v in old[t]:
                if net.is_job(v):
                    self.owner.pop(v, None)
        for t in touched:
            for v in new[t]:
                if net.is_job(v):
                    self.owner[v] = t

    def _copy(self) -> _Copy:
        state = self.state
        return _Copy(
            {t: state.routes[t] for t in self.vehicles},
            {t: state.timings[t] for t in self.vehicles},
            [Counter(left) for left in state.warehouse_left],
        )

    def _restore(self, copy: _Copy) -> None:
        state = self.state
        for t in self.vehicles:
            state.routes[t] = copy.routes[t]
            state.timings[t] = copy.timings[t]
        state.warehouse_left = [Counter(left) for left in copy.warehouse_left]


@dataclass(frozen=True)
class _Copy:
    """Routes and timings of the group, as they were (routes are replaced, never edited)."""

    routes: dict[int, list[int]]
    timings: dict[int, Timing | None]
    warehouse_left: list[Counter[str]]


def _neighbours(
    net: Network, jobs: list[int], vehicles: tuple[int, ...]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Each job's nearest other jobs and the group's technicians starting nearest it."""
    if not jobs:
        return {}, {}
    index = np.array(jobs)
    travel = net.travel[np.ix_(index, index)]
    k = min(NEIGHBOUR_JOBS, len(jobs) - 1)
    nearest = np.argpartition(travel, k, axis=1)[:, : k + 1] if k > 0 else np.zeros((len(jobs), 0))
    starts = np.array([net.start_node(t) for t in vehicles])
    from_start = net.travel[np.ix_(starts, index)]
    s = min(NEIGHBOUR_STARTS, len(vehicles))
    nearest_starts = np.argsort(from_start, axis=0, kind="stable")[:s].T
    near_jobs = {
        job: [jobs[n] for n in row.tolist() if jobs[n] != job]
        for job, row in zip(jobs, nearest, strict=True)
    }
    near_starts = {
        job: [vehicles[k] for k in row.tolist()]
        for job, row in zip(jobs, nearest_starts, strict=True)
    }
    return near_jobs, near_starts

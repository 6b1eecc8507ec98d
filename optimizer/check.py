"""Checking a plan against FORMAT.md: every hard rule, and the score of a plan that keeps them.

The checker is independent of the solver on purpose: it shares only the data types,
recomputes each leg's travel itself (geopy's geodesic, not the solver's vectorized
Vincenty) and takes the times as the plan states them, so a scheduling bug in the solver
cannot be hidden by the same code checking it. The solver's tests run it on every plan
and the web API on dispatchers' manual edits; like VROOM's plan mode, each broken rule
is a ``Violation`` with a machine-readable ``cause``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from geopy.distance import geodesic

from optimizer.plan_io import PlanReader
from optimizer.problem import Location, Priority, Problem, Technician
from optimizer.solution import Route, Solution, Stop, StopKind
from optimizer.travel import EuclideanTravel, GeodesicTravel


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``cause`` for programs, ``message`` for the dispatcher.

    ``technician`` and ``stop`` (a job or warehouse id) say where, when the rule
    belongs to one route or one stop; a break has no id, so only its technician.
    """

    cause: str
    technician: str | None
    stop: str | None
    message: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What a check found, and the plan's figures (minutes, as FORMAT.md scores them).

    The figures are summed whatever the violations, to help repair a plan; ``score``
    is None as soon as there is one, since a plan that breaks a hard rule has none.
    """

    violations: tuple[Violation, ...]
    travel_minutes: float
    late_minutes: float
    unassigned_penalty: int
    score: float | None
    served: Mapping[Priority, int]
    unserved: Mapping[Priority, int]

    @property
    def feasible(self) -> bool:
        return not self.violations


def check(problem: Problem, solution: Solution, *, tolerance: int | None = None) -> CheckReport:
    """Check a plan against every hard rule of FORMAT.md and score it.

    Parameters
    ----------
    problem
        The day the plan is for.
    solution
        The plan, with the times it states.
    tolerance
        Ticks by which each leg may be shorter than the recomputed travel time, since
        solvers round travel to whole ticks. Default: one minute on a service day
        (FORMAT.md), one tick otherwise (Solomon travel rounded to integer ticks).

    Returns
    -------
    CheckReport
        Every violation (none: the plan is feasible), the figures and the score.
    """
    if tolerance is None:
        tolerance = problem.ticks_per_minute if problem.date is not None else 1
    return _Checker(problem, tolerance).run(solution)


def check_plan_document(
    problem: Problem, document: Any, *, tolerance: int | None = None
) -> CheckReport:
    """Check a ``fieldops-plan/1`` document, such as a dispatcher's edit or another solver's plan.

    Times are ISO 8601 instants with offset when the problem has a date and time zone
    (read as wall-clock time on that date, as ``optimizer.io`` writes them), otherwise
    numbers in the problem's minutes. ``depart`` and ``return`` may then be left out
    (FORMAT.md, Solomon plans): they default to the technician's shift, so only the
    order and times of the stops count.

    Parameters
    ----------
    problem
        The day the plan is for.
    document
        The plan as parsed JSON.
    tolerance
        As for ``check``.

    Returns
    -------
    CheckReport
        The report of ``check``; when the document cannot be read, its ``"format"``
        violations alone, with zero figures and no score, since nothing else is known.
    """
    reader = PlanReader(problem)
    solution = reader.solution(document)
    if solution is None:
        nobody = _by_priority(Counter())
        unreadable = tuple(Violation("format", None, None, problem) for problem in reader.problems)
        return CheckReport(unreadable, 0.0, 0.0, 0, None, nobody, nobody)
    return check(problem, solution, tolerance=tolerance)


def _by_priority(counts: Counter[Priority]) -> Mapping[Priority, int]:
    return MappingProxyType({priority: counts[priority] for priority in Priority})


def _stop_name(stop: Stop) -> str:
    return f"{stop.kind.value} {stop.id}"


class _TravelTimes:
    """Travel ticks (unrounded) between two locations under the problem's rule.

    Each location pair is computed once per check: geopy's geodesic is exact but slow,
    and a day's plan passes many times between the same homes and warehouses.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.known: dict[tuple[Location, Location], float] = {}

    def __call__(self, origin: Location, destination: Location) -> float:
        key = (origin, destination)
        if key not in self.known:
            self.known[key] = self._compute(origin, destination)
        return self.known[key]

    def _compute(self, origin: Location, destination: Location) -> float:
        model = self.problem.travel
        if isinstance(model, GeodesicTravel):
            km = float(geodesic((origin.lat, origin.lon), (destination.lat, destination.lon)).km)
            hours = km * model.circuity / model.speed_kmh
            return hours * 60 * self.problem.ticks_per_minute
        if isinstance(model, EuclideanTravel):
            distance = math.hypot(origin.lat - destination.lat, origin.lon - destination.lon)
            return distance * model.ticks_per_unit
        # A model the checker cannot recompute (a road network): trust its own answer.
        return float(model.matrix([origin, destination])[0][1])


class _Checker:
    """One check of one plan: walks the routes, collects violations and sums the figures."""

    def __init__(self, problem: Problem, tolerance: int) -> None:
        self.problem = problem
        self.tolerance = tolerance
        self.jobs = {job.id: job for job in problem.jobs}
        self.technicians = {technician.id: technician for technician in problem.technicians}
        self.warehouses = {warehouse.id: warehouse for warehouse in problem.warehouses}
        self.travel = _TravelTimes(problem)
        self.violations: list[Violation] = []
        self.travel_ticks = 0.0
        self.late_ticks = 0
        self.pickups: Counter[tuple[str, str]] = Counter()  # (warehouse, sku) -> quantity

    def flag(self, cause: str, technician: str | None, stop: str | None, message: str) -> None:
        self.violations.append(Violation(cause, technician, stop, message))

    def clock(self, ticks: float) -> str:
        """A time as the dispatcher reads it: HH:MM on a service day, a number for Solomon."""
        if self.problem.date is None:
            return f"{ticks / self.problem.ticks_per_minute:g}"
        seconds = round(ticks * 60 / self.problem.ticks_per_minute)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")

    def minutes(self, ticks: float) -> str:
        return f"{ticks / self.problem.ticks_per_minute:.1f} min"

    def run(self, solution: Solution) -> CheckReport:
        served = self._check_assignment(solution)
        self._check_technicians(solution)
        for route in solution.routes:
            technician = self.technicians.get(route.technician)
            if technician is not None:
                self._check_route(route, technician)
        self._check_warehouse_stock()
        return self._report(served)

    # --- the plan as a whole ---------------------------------------------------------

    def _check_assignment(self, solution: Solution) -> set[str]:
        """Every job exactly once, in a route or unassigned with a reason; returns those served."""
        count: Counter[str] = Counter()
        served: set[str] = set()
        for route in solution.routes:
            for stop in route.stops:
                if stop.kind != StopKind.JOB:
                    continue
                count[stop.id] += 1
                if stop.id in self.jobs:
                    served.add(stop.id)
                else:
                    self.flag(
                        "unknown_job",
                        route.technician,
                        stop.id,
                        f"{route.technician}'s route visits job {stop.id}, "
                        "which is not one of the day's jobs.",
                    )
        for item in solution.unassigned:
            count[item.job] += 1
            if item.job not in self.jobs:
                self.flag(
                    "unknown_job",
                    None,
                    item.job,
                    f"Job {item.job} is listed as unassigned but is not one of the day's jobs.",
                )
            if not item.reason.strip():
                self.flag(
                    "reason",
                    None,
                    item.job,
                    f"Job {item.job} is unassigned without a reason the dispatcher can act on.",
                )
        for job_id, times in count.items():
            if times > 1 and job_id in self.jobs:
                self.flag(
                    "duplicate_job",
                    None,
                    job_id,
                    f"Job {job_id} appears {times} times in the plan; it must appear once.",
                )
        for job_id in self.jobs:
            if count[job_id] == 0:
                self.flag(
                    "missing_job",
                    None,
                    job_id,
                    f"Job {job_id} is neither in a route nor listed as unassigned.",
                )
        return served

    def _check_technicians(self, solution: Solution) -> None:
        """Routes belong to known technicians, one each; jobs under way open their route."""
        routes: dict[str, Route] = {}
        for route in solution.routes:
            if route.technician not in self.technicians:
                self.flag(
                    "unknown_technician",
                    route.technician,
                    None,
                    f"The plan has a route for {route.technician}, "
                    "who is not one of the day's technicians.",
                )
            elif route.technician in routes:
                self.flag(
                    "duplicate_route",
                    route.technician,
                    None,
                    f"The plan has more than one route for {route.technician}.",
                )
            else:
                routes[route.technician] = route
        for technician in self.problem.technicians:
            fixed = technician.fixed_jobs
            if not fixed:
                continue
            own = routes.get(technician.id)
            visits = [s for s in own.stops if s.kind != StopKind.BREAK] if own else []
            opening = visits[: len(fixed)]
            if [(s.kind, s.id) for s in opening] != [(StopKind.JOB, job_id) for job_id in fixed]:
                self.flag(
                    "fixed_jobs",
                    technician.id,
                    fixed[0],
                    f"{technician.id} is already working on {', '.join(fixed)}: the route "
                    "must start with them, in that order, but it starts with "
                    f"{', '.join(_stop_name(s) for s in opening) or 'nothing'}.",
                )

    def _check_warehouse_stock(self) -> None:
        """The day's pickups, summed over all routes, stay within each warehouse's stock."""
        for (warehouse_id, sku), taken in self.pickups.items():
            stock = self.warehouses[warehouse_id].stock[sku]
            if taken > stock:
                self.flag(
                    "warehouse_stock",
                    None,
                    warehouse_id,
                    f"The plan picks up {taken} of {sku} at {warehouse_id}, "
                    f"which has only {stock}.",
                )

    def _report(self, served: set[str]) -> CheckReport:
        unserved = [job for job in self.problem.jobs if job.id not in served]
        # Jobs missing from the plan cost like unassigned ones: neither is served.
        penalty = sum(self.problem.penalties[job.priority] for job in unserved)
        travel = self.travel_ticks / self.problem.ticks_per_minute
        late = self.late_ticks / self.problem.ticks_per_minute
        score = None
        if not self.violations:
            score = travel + penalty + self.problem.lateness_weight * late
        return CheckReport(
            violations=tuple(self.violations),
            travel_minutes=travel,
            late_minutes=late,
            unassigned_penalty=penalty,
            score=score,
            served=_by_priority(Counter(self.jobs[job_id].priority for job_id in served)),
            unserved=_by_priority(Counter(job.priority for job in unserved)),
        )

    # --- one route -------------------------------------------------------------------

    def _check_route(self, route: Route, technician: Technician) -> None:
        name = technician.id
        if route.depart < technician.shift.start:
            self.flag(
                "shift",
                name,
                None,
                f"{name} leaves at {self.clock(route.depart)}, before the shift "
                f"starts at {self.clock(technician.shift.start)}.",
            )
        if route.return_ > technician.shift.end:
            self.flag(
                "shift",
                name,
                None,
                f"{name} is back at {self.clock(route.return_)}, after the shift "
                f"ends at {self.clock(technician.shift.end)}.",
            )
        if not route.stops:
            return  # not working today: no travel, no break
        for stop in route.stops:
            self._check_stop_times(name, stop)
            if stop.kind == StopKind.JOB and stop.id in self.jobs:
                self._check_job(technician, stop)
            elif stop.kind == StopKind.WAREHOUSE:
                self._check_warehouse_call(name, stop)
        self._check_break(route, technician)
        self._check_legs(route, technician)
        self._check_parts(route, technician)
        self._check_capacity(route, technician)

    def _check_stop_times(self, technician: str, stop: Stop) -> None:
        if not stop.arrival <= stop.start <= stop.end:
            where = "break" if stop.kind == StopKind.BREAK else _stop_name(stop)
            self.flag(
                "timing",
                technician,
                stop.id or None,
                f"{technician}'s {where}: arrival {self.clock(stop.arrival)}, start "
                f"{self.clock(stop.start)} and end {self.clock(stop.end)} "
                "must come in that order.",
            )

    def _check_job(self, technician: Technician, stop: Stop) -> None:
        job = self.jobs[stop.id]
        name = technician.id
        missing = job.skills - technician.skills
        if missing:
            self.flag(
                "skills",
                name,
                job.id,
                f"Job {job.id} needs {', '.join(sorted(missing))}, which {name} lacks.",
            )
        if job.pinned_to is not None and job.pinned_to != name:
            self.flag(
                "pinned",
                name,
                job.id,
                f"Job {job.id} is promised to {job.pinned_to} but given to {name}.",
            )
        if stop.end - stop.start != job.service:
            self.flag(
                "duration",
                name,
                job.id,
                f"Job {job.id} takes {self.minutes(job.service)}, but the plan gives it "
                f"{self.minutes(stop.end - stop.start)}.",
            )
        if job.window is not None and stop.start not in job.window:
            self.flag(
                "window",
                name,
                job.id,
                f"Work on job {job.id} starts at {self.clock(stop.start)}, outside its "
                f"window {self.clock(job.window.start)}-{self.clock(job.window.end)}.",
            )
        if job.sla_due is not None:
            self.late_ticks += max(0, stop.end - job.sla_due)

    def _check_warehouse_call(self, technician: str, stop: Stop) -> None:
        warehouse = self.warehouses.get(stop.id)
        if warehouse is None:
            self.flag(
                "unknown_warehouse",
                technician,
                stop.id,
                f"{technician}'s route calls at {stop.id}, "
                "which is not one of the day's warehouses.",
            )
            return
        if stop.end - stop.start != warehouse.pickup_service:
            self.flag(
                "duration",
                technician,
                stop.id,
                f"A pickup at {stop.id} takes {self.minutes(warehouse.pickup_service)}, "
                f"but the plan gives it {self.minutes(stop.end - stop.start)}.",
            )
        if stop.start < warehouse.hours.start or stop.end > warehouse.hours.end:
            self.flag(
                "warehouse_hours",
                technician,
                stop.id,
                f"{technician} is at {stop.id} from {self.clock(stop.start)} to "
                f"{self.clock(stop.end)}, outside its hours "
                f"{self.clock(warehouse.hours.start)}-{self.clock(warehouse.hours.end)}.",
            )

    def _check_break(self, route: Route, technician: Technician) -> None:
        name = technician.id
        breaks = [stop for stop in route.stops if stop.kind == StopKind.BREAK]
        rule = technician.break_rule
        if rule is None:
            if breaks:
                self.flag(
                    "break",
                    name,
                    None,
                    f"{name} has no break today, but the plan gives {len(breaks)}.",
                )
            return
        if len(breaks) != 1:
            self.flag(
                "break",
                name,
                None,
                f"{name} must take exactly one break; the plan gives {len(breaks)}.",
            )
        for stop in breaks:
            if stop.start not in rule.window:
                self.flag(
                    "break",
                    name,
                    None,
                    f"{name}'s break starts at {self.clock(stop.start)}, outside "
                    f"{self.clock(rule.window.start)}-{self.clock(rule.window.end)}.",
                )
            if stop.end - stop.start != rule.duration:
                self.flag(
                    "duration",
                    name,
                    None,
                    f"{name}'s break lasts {self.minutes(stop.end - stop.start)} "
                    f"instead of {self.minutes(rule.duration)}.",
                )

    def _check_legs(self, route: Route, technician: Technician) -> None:
        """Each leg leaves time to drive it, and to take any break on the way, within tolerance.

        Breaks have no place: they happen wherever the technician is between two
        located stops, so a leg is timed from the end of the last located stop.
        """
        name = technician.id
        here, here_name = technician.start, "the start of the route"
        left = free = route.depart  # left `here` at; free of breaks since
        breaks = 0  # break ticks since leaving `here`
        # None stands for the return to the end location, the leg after the last stop.
        for stop in (*route.stops, None):
            if stop is not None and stop.kind == StopKind.BREAK:
                if stop.start < free:
                    self.flag(
                        "timing",
                        name,
                        None,
                        f"{name}'s break starts at {self.clock(stop.start)}, before "
                        f"{name} is free at {self.clock(free)}.",
                    )
                free, breaks = stop.end, breaks + stop.end - stop.start
                continue
            if stop is None:
                there, there_name = technician.end, "the end of the route"
                stop_id, arrival, start = None, route.return_, route.return_
            else:
                place = self._location(stop)
                if place is None:
                    continue  # an unknown stop, reported already
                there, there_name = place, _stop_name(stop)
                stop_id, arrival, start = stop.id, stop.arrival, stop.start
            drive = self.travel(here, there)
            self.travel_ticks += drive
            if arrival < left + drive - self.tolerance:
                self.flag(
                    "timing",
                    name,
                    stop_id,
                    f"{name} reaches {there_name} at {self.clock(arrival)}, but the "
                    f"{self.minutes(drive)} drive from {here_name} at "
                    f"{self.clock(left)} ends at {self.clock(left + drive)}.",
                )
            if start < free:
                self.flag(
                    "timing",
                    name,
                    stop_id,
                    f"{name} is due at {there_name} at {self.clock(start)}, "
                    f"before the break ends at {self.clock(free)}.",
                )
            if breaks and start - left < drive + breaks - self.tolerance:
                self.flag(
                    "timing",
                    name,
                    stop_id,
                    f"Between {here_name} and {there_name}, {name} has "
                    f"{self.minutes(start - left)} for a {self.minutes(drive)} drive "
                    f"and a {self.minutes(breaks)} break.",
                )
            if stop is not None:
                here, here_name, left, free, breaks = there, there_name, stop.end, stop.end, 0

    def _location(self, stop: Stop) -> Location | None:
        if stop.kind == StopKind.JOB and stop.id in self.jobs:
            return self.jobs[stop.id].location
        if stop.kind == StopKind.WAREHOUSE and stop.id in self.warehouses:
            return self.warehouses[stop.id].location
        return None

    def _check_parts(self, route: Route, technician: Technician) -> None:
        """Simulate the van along the route: pickups add, jobs take, nothing goes below zero."""
        name = technician.id
        van = Counter(technician.van_stock)
        for stop in route.stops:
            if stop.kind == StopKind.WAREHOUSE and stop.id in self.warehouses:
                stock = self.warehouses[stop.id].stock
                for sku, quantity in stop.pickup.items():
                    if sku not in stock:
                        self.flag(
                            "parts",
                            name,
                            stop.id,
                            f"{name} picks up {sku} at {stop.id}, which does not stock that part.",
                        )
                    elif quantity <= 0:
                        self.flag(
                            "parts",
                            name,
                            stop.id,
                            f"{name} picks up {quantity} of {sku} at {stop.id}; "
                            "a pickup takes at least one.",
                        )
                    else:
                        van[sku] += quantity
                        self.pickups[stop.id, sku] += quantity
            elif stop.kind == StopKind.JOB and stop.id in self.jobs:
                for sku, quantity in self.jobs[stop.id].parts.items():
                    van[sku] -= quantity
                    if van[sku] < 0:
                        self.flag(
                            "parts",
                            name,
                            stop.id,
                            f"{name}'s van is {-van[sku]} short of {sku} for job {stop.id}.",
                        )

    def _check_capacity(self, route: Route, technician: Technician) -> None:
        if technician.capacity is None:
            return
        load = sum(self.jobs[job_id].demand for job_id in route.job_ids if job_id in self.jobs)
        if load > technician.capacity:
            self.flag(
                "capacity",
                technician.id,
                None,
                f"{technician.id}'s route carries {load}, "
                f"more than the capacity of {technician.capacity}.",
            )

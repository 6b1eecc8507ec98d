"""PyVRP on the problems it can express, converted back to a Solution for our checker.

PyVRP routes vehicles with capacities and shifts through clients with windows and
service times: the Solomon and Homberger instances. It has no skills, pins, breaks,
parts or priorities, so a field-service day raises ``Inexpressible``. It routes on
the engine's own integer travel matrix (``optimizer.travel_matrix``, as distance and
duration alike), every job required, and its schedule is kept as it reports it, so
the checker judges PyVRP's plan, not a re-timed copy of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

from optimizer import (
    Location,
    Problem,
    Reason,
    Route,
    Solution,
    Stop,
    StopKind,
    Technician,
    Unassigned,
    travel_matrix,
)


class Inexpressible(ValueError):
    """The problem has rules PyVRP has no way to state."""


def pyvrp_solution(problem: Problem, time_limit_s: float, seed: int = 0) -> Solution:
    """Solve with PyVRP's iterated local search for ``time_limit_s`` seconds."""
    _refuse_field_service(problem)
    model = _Model(problem)
    result = pyvrp.solve(model.data, MaxRuntime(time_limit_s), seed=seed, display=False)
    return model.solution(result.best)


def _refuse_field_service(problem: Problem) -> None:
    """Name every rule of the problem PyVRP cannot state, rather than plan without it."""
    rules = []
    if any(t.skills for t in problem.technicians) or any(j.skills for j in problem.jobs):
        rules.append("skills")
    if any(j.pinned_to is not None for j in problem.jobs):
        rules.append("pins")
    if any(t.break_rule is not None for t in problem.technicians):
        rules.append("breaks")
    if problem.warehouses or any(j.parts for j in problem.jobs):
        rules.append("parts")
    due = any(j.sla_due is not None for j in problem.jobs)
    if due or len({j.priority for j in problem.jobs}) > 1:
        rules.append("priorities")
    if any(t.fixed_jobs for t in problem.technicians):
        rules.append("jobs under way")
    if rules:
        raise Inexpressible(f"n/a: PyVRP has no {', '.join(rules)}")


class _Model:
    """PyVRP's data for one problem, and what is needed to read its answer back.

    Technicians alike in start, end, shift and capacity form one vehicle type, as in
    PyVRP's own reading of Solomon files; locations are the depots, then the jobs.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        nodes = travel_matrix(problem)
        self.types: dict[tuple[object, ...], list[Technician]] = {}
        for technician in problem.technicians:
            key = (technician.start, technician.end, technician.shift, technician.capacity)
            self.types.setdefault(key, []).append(technician)
        depot_of: dict[Location, int] = {}  # a place -> its depot number
        rows: list[int] = []  # the travel matrix row of each PyVRP location
        places: list[pyvrp.Location] = []  # coordinates, for PyVRP's plots only
        for technician in problem.technicians:
            for place, row in (
                (technician.start, nodes.start[technician.id]),
                (technician.end, nodes.end[technician.id]),
            ):
                if place not in depot_of:
                    depot_of[place] = len(rows)
                    rows.append(row)
                    places.append(pyvrp.Location(x=place.lat, y=place.lon))
        depots = [pyvrp.Depot(location=i) for i in range(len(rows))]
        clients = []
        for job in problem.jobs:
            window = job.window
            clients.append(
                pyvrp.Client(
                    location=len(rows),
                    delivery=[job.demand],
                    service_duration=job.service,
                    tw_early=window.start if window else 0,
                    tw_late=window.end if window else np.iinfo(np.int64).max,
                    name=job.id,
                )
            )
            rows.append(nodes.job[job.id])
            places.append(pyvrp.Location(x=job.location.lat, y=job.location.lon))
        total_demand = sum(job.demand for job in problem.jobs)
        vehicle_types = []
        for alike in self.types.values():
            first = alike[0]
            capacity = first.capacity if first.capacity is not None else total_demand
            vehicle_types.append(
                pyvrp.VehicleType(
                    num_available=len(alike),
                    capacity=[capacity],
                    start_depot=depot_of[first.start],
                    end_depot=depot_of[first.end],
                    tw_early=first.shift.start,
                    tw_late=first.shift.end,
                )
            )
        # PyVRP's stubs spell a matrix ``np.ndarray[int]``, which no real array type matches.
        ticks: Any = nodes.ticks[np.ix_(rows, rows)]
        self.data = pyvrp.ProblemData(places, clients, depots, vehicle_types, [ticks], [ticks])

    def solution(self, best: pyvrp.Solution) -> Solution:
        """PyVRP's routes as our Solution, keeping PyVRP's own times."""
        jobs = self.problem.jobs
        unused = [list(alike) for alike in self.types.values()]
        routes = []
        served = set()
        for route in best.routes():
            technician = unused[route.vehicle_type()].pop(0)
            stops = []
            for visit in route.schedule():
                if visit.is_depot():
                    continue
                job = jobs[visit.idx]  # a client's number among the clients, as added
                served.add(job.id)
                arrival = visit.start_time - visit.wait_duration
                stops.append(Stop(StopKind.JOB, job.id, arrival, visit.start_time, visit.end_time))
            routes.append(Route(technician.id, route.start_time(), route.end_time(), tuple(stops)))
        unassigned = tuple(
            Unassigned(job.id, Reason.NOT_ENOUGH_TIME, "PyVRP left it out")
            for job in jobs
            if job.id not in served
        )
        return Solution(routes=tuple(routes), unassigned=unassigned)

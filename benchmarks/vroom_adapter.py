"""VROOM (through pyvroom) on our problem, converted back to a Solution for our checker.

On the engine's own integer travel matrix (``optimizer.travel_matrix``, as the
greedy dispatcher), VROOM gets one vehicle per technician (shift, skills, break,
van stock as per-part capacity), jobs with skills (plus one skill per technician
for pinned jobs, so that ``may_serve`` holds), priorities 100/40/10/2 and windows,
and a warehouse shipment for a job whose parts no qualified van holds. VROOM's
times are kept as it reports them, so the checker judges VROOM's plan, not a
re-timed copy of it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import vroom

from optimizer import (
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

VROOM_PRIORITY = {Priority.EMERGENCY: 100, Priority.HIGH: 40, Priority.NORMAL: 10, Priority.LOW: 2}


def vroom_solution(
    problem: Problem, time_limit_s: float, exploration_level: int = 5, threads: int = 1
) -> Solution:
    """Solve with VROOM; its timeout does not bound its construction, so time the call."""
    model = _Model(problem)
    answer = model.input.solve(
        exploration_level=exploration_level,
        nb_threads=threads,
        timeout=timedelta(seconds=time_limit_s),
    )
    return model.solution(answer.to_dict())


def _holds(technician: Technician, job: Job) -> bool:
    return all(technician.van_stock.get(sku, 0) >= n for sku, n in job.parts.items())


class _Model:
    """The VROOM input for one problem, and what is needed to read its answer back."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.nodes = travel_matrix(problem)
        self.warehouse_at = {node: w for w, node in self.nodes.warehouse.items()}
        # Amount dimensions: one per part some job needs, then Solomon's capacity if any.
        self.skus = sorted({sku for job in problem.jobs for sku in job.parts})
        self.has_capacity = any(t.capacity is not None for t in problem.technicians)
        self.total_demand = sum(job.demand for job in problem.jobs)
        skill_names = sorted({s for t in problem.technicians for s in t.skills})
        skill_names += sorted({s for j in problem.jobs for s in j.skills} - set(skill_names))
        self.skill = {name: number for number, name in enumerate(skill_names, start=1)}
        first_pin = len(self.skill) + 1
        self.pin_skill = {t.id: first_pin + i for i, t in enumerate(problem.technicians)}
        self.shipped: dict[str, str] = {}  # job id -> warehouse its parts come from
        self.input = vroom.Input()
        self.input.set_durations_matrix("car", self.nodes.ticks.astype(np.uint32))
        for index, technician in enumerate(problem.technicians):
            self.input.add_vehicle(self._vehicle(index, technician))
        stock = {w.id: dict(w.stock) for w in problem.warehouses}
        for index, job in enumerate(problem.jobs):
            self._add_job(index, job, stock)

    def _amount(self, parts: dict[str, int], demand: int) -> vroom.Amount:
        values = [parts.get(sku, 0) for sku in self.skus]
        if self.has_capacity:
            values.append(demand)
        return vroom.Amount(values)

    def _vehicle(self, index: int, technician: Technician) -> vroom.Vehicle:
        breaks = []
        rule = technician.break_rule
        if rule is not None:
            window = vroom.TimeWindow(rule.window.start, rule.window.end)
            breaks.append(vroom.Break(index, time_windows=[window], service=rule.duration))
        capacity = technician.capacity if technician.capacity is not None else self.total_demand
        skills = {self.skill[s] for s in technician.skills} | {self.pin_skill[technician.id]}
        return vroom.Vehicle(
            index,
            start=self.nodes.start[technician.id],
            end=self.nodes.end[technician.id],
            capacity=self._amount(dict(technician.van_stock), capacity),
            skills=skills,
            time_window=vroom.TimeWindow(technician.shift.start, technician.shift.end),
            breaks=breaks,
        )

    def _add_job(self, index: int, job: Job, stock: dict[str, dict[str, int]]) -> None:
        skills = {self.skill[s] for s in job.skills}
        if job.pinned_to is not None:
            skills.add(self.pin_skill[job.pinned_to])
        windows = [vroom.TimeWindow(job.window.start, job.window.end)] if job.window else []
        priority = VROOM_PRIORITY[job.priority]
        qualified = [t for t in self.problem.technicians if may_serve(t, job)]
        warehouse = None
        if job.parts and not any(_holds(t, job) for t in qualified):
            warehouse = self._warehouse_for(job, stock)
        if warehouse is None:
            self.input.add_job(
                vroom.Job(
                    index,
                    location=self.nodes.job[job.id],
                    default_service=job.service,
                    delivery=self._amount(dict(job.parts), job.demand),
                    skills=skills,
                    priority=priority,
                    time_windows=windows,
                )
            )
            return
        # Parts from a warehouse: pick them up there (within its hours), then do the job.
        self.shipped[job.id] = warehouse.id
        for sku, quantity in job.parts.items():
            stock[warehouse.id][sku] -= quantity
        hours = vroom.TimeWindow(
            warehouse.hours.start, warehouse.hours.end - warehouse.pickup_service
        )
        self.input.add_shipment(
            vroom.ShipmentStep(
                index,
                location=self.nodes.warehouse[warehouse.id],
                default_service=warehouse.pickup_service,
                time_windows=[hours],
            ),
            vroom.ShipmentStep(
                index,
                location=self.nodes.job[job.id],
                default_service=job.service,
                time_windows=windows,
            ),
            amount=self._amount({}, job.demand),
            skills=skills,
            priority=priority,
        )

    def _warehouse_for(self, job: Job, stock: dict[str, dict[str, int]]) -> Warehouse | None:
        """The warehouse nearest the job that still has all its parts (stock is shared)."""
        matrix = self.nodes.ticks
        able = [
            w
            for w in self.problem.warehouses
            if all(stock[w.id].get(sku, 0) >= n for sku, n in job.parts.items())
        ]
        at = self.nodes.job[job.id]
        return min(able, key=lambda w: matrix[self.nodes.warehouse[w.id], at], default=None)

    def solution(self, answer: dict[str, Any]) -> Solution:
        """VROOM's routes as our Solution, keeping VROOM's own times."""
        jobs, technicians = self.problem.jobs, self.problem.technicians
        routes = []
        served = set()
        for route in answer["routes"]:
            technician = technicians[route["vehicle"]]
            stops = []
            depart = return_ = technician.shift.start
            for step in route["steps"]:
                kind, arrival = step["type"], step["arrival"]
                start = arrival + step["waiting_time"]
                end = start + step["service"]
                if kind == "start":
                    depart = arrival
                elif kind == "end":
                    return_ = arrival
                elif kind == "break":
                    stops.append(Stop(StopKind.BREAK, "", arrival, start, end))
                elif kind == "pickup":
                    job = jobs[step["id"]]
                    warehouse = self.warehouse_at[step["location_index"]]
                    stops.append(
                        Stop(StopKind.WAREHOUSE, warehouse, arrival, start, end, job.parts)
                    )
                else:  # "job" or "delivery": the visit itself
                    job = jobs[step["id"]]
                    served.add(job.id)
                    stops.append(Stop(StopKind.JOB, job.id, arrival, start, end))
            routes.append(Route(technician.id, depart, return_, tuple(stops)))
        unassigned = tuple(self._why(job) for job in jobs if job.id not in served)
        return Solution(routes=tuple(routes), unassigned=unassigned)

    def _why(self, job: Job) -> Unassigned:
        """VROOM gives no reasons; name the one we can tell, else a lack of time."""
        qualified = [t for t in self.problem.technicians if may_serve(t, job)]
        if not qualified:
            return Unassigned(job.id, Reason.NO_SKILLED_TECHNICIAN, "no qualified technician")
        if job.parts and job.id not in self.shipped and not any(_holds(t, job) for t in qualified):
            return Unassigned(
                job.id, Reason.PARTS_UNAVAILABLE, "no qualified van or warehouse has its parts"
            )
        return Unassigned(job.id, Reason.NOT_ENOUGH_TIME, "VROOM left it out")

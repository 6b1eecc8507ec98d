"""Node numbering and per-node arrays shared by the scheduling code and the model.

Nodes: jobs ``0..J-1``, warehouses ``J..J+W-1``, technician starts, then technician
ends. Domain ids stay in the Problem; node numbers exist only inside the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import Problem


@dataclass(frozen=True)
class Network:
    """The travel matrix and what each node needs, as plain arrays for fast loops."""

    problem: Problem
    travel: np.ndarray  # ticks, [node, node]
    service: list[int]
    window_start: list[int]
    window_end: list[int]
    due: list[int | None]  # SLA due of jobs
    n_jobs: int
    n_warehouses: int

    @classmethod
    def build(cls, problem: Problem) -> Network:
        points = (
            [j.location for j in problem.jobs]
            + [w.location for w in problem.warehouses]
            + [t.start for t in problem.technicians]
            + [t.end for t in problem.technicians]
        )
        travel = problem.travel.matrix(points)
        far = 10**12
        service = [j.service for j in problem.jobs] + [
            w.pickup_service for w in problem.warehouses
        ]
        starts = [j.window.start if j.window else -far for j in problem.jobs]
        ends = [j.window.end if j.window else far for j in problem.jobs]
        starts += [w.hours.start for w in problem.warehouses]
        # A pickup must also end before closing time.
        ends += [w.hours.end - w.pickup_service for w in problem.warehouses]
        return cls(
            problem=problem,
            travel=travel,
            service=service,
            window_start=starts,
            window_end=ends,
            due=[j.sla_due for j in problem.jobs],
            n_jobs=len(problem.jobs),
            n_warehouses=len(problem.warehouses),
        )

    def warehouse_node(self, index: int) -> int:
        return self.n_jobs + index

    def start_node(self, technician: int) -> int:
        return self.n_jobs + self.n_warehouses + technician

    def end_node(self, technician: int) -> int:
        return self.n_jobs + self.n_warehouses + len(self.problem.technicians) + technician

    def is_job(self, node: int) -> bool:
        return node < self.n_jobs

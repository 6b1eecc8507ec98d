"""One integer travel matrix per day, shared by the greedy dispatcher and the VROOM adapter.

Both baselines must see exactly the travel times the checker uses, so both index
the same matrix from ``problem.travel.matrix``: jobs, then warehouses, then each
technician's start, then each technician's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import Problem


@dataclass(frozen=True)
class Nodes:
    """Matrix row of every job, warehouse and technician start/end, by id."""

    matrix: np.ndarray  # travel ticks, [row, column]
    job: dict[str, int]
    warehouse: dict[str, int]
    start: dict[str, int]
    end: dict[str, int]


def build_nodes(problem: Problem) -> Nodes:
    """Compute the day's matrix once; every leg afterwards is a lookup."""
    points = [j.location for j in problem.jobs]
    points += [w.location for w in problem.warehouses]
    points += [t.start for t in problem.technicians]
    points += [t.end for t in problem.technicians]
    n_jobs, n_warehouses = len(problem.jobs), len(problem.warehouses)
    n_technicians = len(problem.technicians)
    first_start = n_jobs + n_warehouses
    return Nodes(
        matrix=problem.travel.matrix(points),
        job={j.id: i for i, j in enumerate(problem.jobs)},
        warehouse={w.id: n_jobs + i for i, w in enumerate(problem.warehouses)},
        start={t.id: first_start + i for i, t in enumerate(problem.technicians)},
        end={t.id: first_start + n_technicians + i for i, t in enumerate(problem.technicians)},
    )

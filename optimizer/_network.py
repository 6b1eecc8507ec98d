"""Node numbering and per-node arrays shared by the scheduling code and the model.

Nodes: jobs ``0..J-1``, warehouses ``J..J+W-1``, technician starts, then technician
ends. Domain ids stay in the Problem; inside the engine only node numbers are used,
and ``TravelMatrix`` maps ids to them for code outside it (the benchmark baselines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from optimizer.problem import Location, Problem


@dataclass(frozen=True)
class TravelMatrix:
    """A day's travel ticks between all its places, and the row of each place by id.

    The rows are the engine's own nodes, so another solver that indexes this
    matrix sees exactly the travel times the engine plans with.
    """

    ticks: NDArray[np.int64]  # [row, column]
    job: Mapping[str, int]
    warehouse: Mapping[str, int]
    start: Mapping[str, int]  # technician id -> where their day starts
    end: Mapping[str, int]  # technician id -> where it ends


def travel_matrix(problem: Problem) -> TravelMatrix:
    """Compute the day's travel matrix once, every leg afterwards being a lookup."""
    technicians = problem.technicians
    points = places(problem)
    first_warehouse = len(problem.jobs)
    first_start = first_warehouse + len(problem.warehouses)
    first_end = first_start + len(technicians)
    return TravelMatrix(
        ticks=problem.travel.matrix(points),
        job={j.id: row for row, j in enumerate(problem.jobs)},
        warehouse={w.id: first_warehouse + i for i, w in enumerate(problem.warehouses)},
        start={t.id: first_start + i for i, t in enumerate(technicians)},
        end={t.id: first_end + i for i, t in enumerate(technicians)},
    )


def places(problem: Problem) -> list[Location]:
    """Where each node is, in node order: jobs, warehouses, technician starts, then ends."""
    return (
        [j.location for j in problem.jobs]
        + [w.location for w in problem.warehouses]
        + [t.start for t in problem.technicians]
        + [t.end for t in problem.technicians]
    )


class TravelRows(dict[int, list[int]]):
    """Rows of the travel matrix as lists, made on first use.

    Indexing a numpy matrix one leg at a time costs several times what a list
    does, and timing routes is the engine's inner loop; only the rows the routes
    touch are made (a partial network, ``_candidates``, touches few).
    """

    def __init__(self, travel: NDArray[np.int64]) -> None:
        super().__init__()
        self.travel = travel

    def __missing__(self, node: int) -> list[int]:
        row: list[int] = self.travel[node].tolist()
        self[node] = row
        return row


@dataclass(frozen=True)
class Network:
    """The travel matrix and what each node needs, as plain arrays for fast loops.

    When re-planning, ``incumbent`` gives the technician each job of the published
    plan is with, and serving it with anybody else adds ``move_cost`` ticks to the
    objective (``SolveParams.incumbent``); without one both are empty.
    """

    problem: Problem
    travel: NDArray[np.int64]  # ticks, [node, node]
    service: list[int]
    window_start: list[int]
    window_end: list[int]
    due: list[int | None]  # SLA due of jobs
    n_jobs: int
    n_warehouses: int
    incumbent: Mapping[int, int] = field(default_factory=dict)  # job node -> technician
    move_cost: int = 0

    @classmethod
    def build(cls, problem: Problem, travel: NDArray[np.int64] | None = None) -> Network:
        """The network of ``problem``; ``travel`` replaces the whole day's matrix when given.

        A caller that needs only a few legs (``_candidates``, answering a dispatcher
        on the phone) fills just those, rather than wait for every pair of the day.
        """
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
            travel=travel_matrix(problem).ticks if travel is None else travel,
            service=service,
            window_start=starts,
            window_end=ends,
            due=[j.sla_due for j in problem.jobs],
            n_jobs=len(problem.jobs),
            n_warehouses=len(problem.warehouses),
        )

    @cached_property
    def rows(self) -> TravelRows:
        """Travel ticks as plain lists, row by row: ``rows[a][b]``, for the schedule's loops."""
        return TravelRows(self.travel)

    @cached_property
    def plain(self) -> bool:
        """No breaks, parts or SLA due times anywhere (a VRPTW instance, say).

        Then the routes' time bounds (``_construct.Places``) are exact and the
        travel added is all an insertion costs, so the cheapest place the bounds
        allow that the capacity takes is the cheapest feasible one.
        """
        problem = self.problem
        return (
            all(t.break_rule is None for t in problem.technicians)
            and not any(j.parts for j in problem.jobs)
            and all(due is None for due in self.due)
        )

    @cached_property
    def twins(self) -> list[int]:
        """Each technician's first twin: the first technician alike in all but the id.

        Twins' empty routes take a job alike, so insertion tries one of them. With
        an incumbent plan they differ in the moves a job costs: each is its own twin.
        """
        first: dict[tuple[object, ...], int] = {}
        twins = []
        for t, technician in enumerate(self.problem.technicians):
            alike: tuple[object, ...] = (t,)
            if not self.incumbent:
                values = (
                    getattr(technician, f.name) for f in fields(technician) if f.name != "id"
                )
                alike = tuple(
                    tuple(sorted(v.items())) if isinstance(v, Mapping) else v for v in values
                )
            twins.append(first.setdefault(alike, t))
        return twins

    def __getstate__(self) -> dict[str, object]:
        # Search processes receive the network pickled: the rows are made again there.
        state = dict(self.__dict__)
        state.pop("rows", None)
        return state

    def warehouse_node(self, index: int) -> int:
        return self.n_jobs + index

    def start_node(self, technician: int) -> int:
        return self.n_jobs + self.n_warehouses + technician

    def end_node(self, technician: int) -> int:
        return self.n_jobs + self.n_warehouses + len(self.problem.technicians) + technician

    def is_job(self, node: int) -> bool:
        return node < self.n_jobs

    def moves(self, technician: int, visits: Iterable[int]) -> int:
        """How many of ``visits`` are jobs ``technician`` would take from their incumbent."""
        return sum(1 for v in visits if self.incumbent.get(v, technician) != technician)

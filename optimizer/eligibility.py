"""Who may serve which job, decided once before the search, and why a job has nobody.

Like VROOM's compatibility matrix: a technician is eligible for a job when they
have its skills, honour its pin, and could do it alone in their day (window,
shift, break, capacity) with its parts from the van or one warehouse call. Jobs
nobody is eligible for are left out with a reason a dispatcher can act on, before
the solver ever sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from optimizer._network import Network
from optimizer._schedule import evaluate
from optimizer.problem import Job, Technician
from optimizer.solution import Reason, Unassigned


@dataclass(frozen=True)
class Eligibility:
    """``allowed[j]``: technicians (indices) eligible for job ``j``; ``excluded``: why not."""

    allowed: tuple[tuple[int, ...], ...]
    excluded: Mapping[int, Unassigned]


def eligibility(net: Network) -> Eligibility:
    """Compute the eligible technicians of every job of ``net.problem``."""
    allowed: list[tuple[int, ...]] = []
    excluded: dict[int, Unassigned] = {}
    for j in range(len(net.problem.jobs)):
        ready, reason = job_eligibility(net, j)
        allowed.append(ready)
        if reason is not None:
            excluded[j] = reason
    return Eligibility(tuple(allowed), excluded)


def job_eligibility(net: Network, job: int) -> tuple[tuple[int, ...], Unassigned | None]:
    """The technicians eligible for the job of node ``job``, and the reason when there are none.

    Only the legs between each skilled technician's start and end, the job and the
    warehouses are read, so ``net`` may hold just those (see ``_candidates``).
    """
    problem = net.problem
    one = problem.jobs[job]
    skilled = [t for t, tech in enumerate(problem.technicians) if may_serve(tech, one)]
    timely = [t for t in skilled if _fits_alone(net, t, job, with_parts=False)]
    ready = tuple(t for t in timely if _fits_alone(net, t, job, with_parts=True))
    return ready, None if ready else _why(net, one, skilled, timely)


def may_serve(technician: Technician, job: Job) -> bool:
    """The rule of who may do a job at all: every skill it needs, and its pin if it has one.

    Time, parts and capacity narrow this further (``eligibility``); solvers compared
    with the engine apply this same rule.
    """
    return job.skills <= technician.skills and job.pinned_to in (None, technician.id)


def _fits_alone(net: Network, technician: int, job: int, *, with_parts: bool) -> bool:
    """Could the technician do this job as their only visit (via one warehouse call if needed)?"""
    if evaluate(net, technician, [job], parts=with_parts) is not None:
        return True
    if not with_parts:
        return False
    for w, warehouse in enumerate(net.problem.warehouses):
        # The call picks up only what the van lacks; the warehouse must have that much.
        timing = evaluate(net, technician, [net.warehouse_node(w), job])
        if timing is not None and all(
            warehouse.stock.get(sku, 0) >= quantity for sku, quantity in timing.pickups[0].items()
        ):
            return True
    return False


def _why(net: Network, job: Job, skilled: list[int], timely: list[int]) -> Unassigned:
    """The first reason, in the order a dispatcher would fix things, that leaves nobody."""
    problem = net.problem
    technicians = problem.technicians
    if job.pinned_to is not None:
        pinned = problem.technician(job.pinned_to)
        missing = sorted(job.skills - pinned.skills)
        if missing:
            return Unassigned(
                job.id,
                Reason.PINNED_TECHNICIAN_UNAVAILABLE,
                f"pinned technician {pinned.id} lacks skill {_names(missing)}",
            )
        if not timely:
            return Unassigned(
                job.id,
                Reason.PINNED_TECHNICIAN_UNAVAILABLE,
                f"pinned technician {pinned.id} is not working when the job can be done",
            )
    if not skilled:
        held = set().union(*(t.skills for t in technicians)) if technicians else set()
        missing = sorted(job.skills - held)
        if missing:
            return Unassigned(
                job.id, Reason.NO_SKILLED_TECHNICIAN, f"no technician has skill {_names(missing)}"
            )
        return Unassigned(
            job.id,
            Reason.NO_SKILLED_TECHNICIAN,
            f"no technician has all of the skills {_names(sorted(job.skills))}",
        )
    if not timely:
        if job.demand and all(
            t.capacity is not None and t.capacity < job.demand for t in technicians
        ):
            return Unassigned(
                job.id, Reason.CAPACITY, f"demand {job.demand} exceeds every capacity"
            )
        return Unassigned(
            job.id,
            Reason.WINDOW_OUTSIDE_SHIFTS,
            "the job cannot fit inside the shift of any technician with the skills"
            + (" (its window is outside their working hours)" if job.window else ""),
        )
    in_warehouses = {
        sku: max((w.stock.get(sku, 0) for w in problem.warehouses), default=0) for sku in job.parts
    }
    for sku, quantity in job.parts.items():
        # Van and one warehouse call together: the most any qualified technician could have.
        most = max((technicians[t].van_stock.get(sku, 0) for t in timely), default=0)
        if most + in_warehouses[sku] < quantity:
            return Unassigned(
                job.id,
                Reason.PARTS_UNAVAILABLE,
                f"part {sku} (x{quantity}): not that many in any qualified van and warehouse",
            )
    return Unassigned(
        job.id,
        Reason.PARTS_UNAVAILABLE,
        "no qualified technician has the parts and can fetch them from a warehouse in time",
    )


def _names(skills: list[str]) -> str:
    return ", ".join(repr(s) for s in skills)

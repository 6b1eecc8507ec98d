"""How much a re-plan changes who does what: every moved job is a phone call.

A dispatcher re-plans a published plan during the day (an emergency came in, a
technician went home sick). ``assigned_technicians`` of the published plan is the
``SolveParams.incumbent`` that keeps the search from moving jobs for little gain,
and ``moved_jobs`` says which jobs the re-plan moved all the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from optimizer.solution import Solution


def assigned_technicians(solution: Solution) -> dict[str, str]:
    """Job id -> id of the technician whose route serves it, for every job the plan serves.

    Parameters
    ----------
    solution
        A plan, typically the one published to the technicians.

    Returns
    -------
    dict[str, str]
        The plan's assignment; unassigned jobs are not in it.
    """
    return {job_id: route.technician for route in solution.routes for job_id in route.job_ids}


def moved_jobs(incumbent: Mapping[str, str], solution: Solution) -> list[str]:
    """Jobs of ``incumbent`` that ``solution`` serves with another technician.

    Parameters
    ----------
    incumbent
        Job id -> technician id before the re-plan (``assigned_technicians`` of the
        published plan).
    solution
        The re-plan.

    Returns
    -------
    list[str]
        The moved jobs' ids, in ``incumbent``'s order. A job the re-plan leaves out
        is not moved: it is in ``solution.unassigned``, with its reason.
    """
    now = assigned_technicians(solution)
    return [
        job_id
        for job_id, technician in incumbent.items()
        if now.get(job_id, technician) != technician
    ]

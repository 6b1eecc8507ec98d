"""Ruin: take strings of neighbouring jobs out of a few routes near a random seed job.

Guided local search stalls on tightly windowed days (Solomon R1/RC1 stopped
improving after a few seconds, 5-8 % above the best known). Removing jobs that
lie close together, from several routes at once, and letting OR-Tools put them
back somewhere else is what gets a search out of such a basin. This is the ruin
step of SISR (slack induction by string removals, Christiaens and Vanden Berghe,
Transportation Science 2020); the jobs go back by OR-Tools' local search
(``_ortools``) or by our own insertion (``_recreate``).
"""

from __future__ import annotations

import random

import numpy as np

from optimizer._construct import RoutesState

#: Jobs removed per ruin, on average.
AVERAGE_REMOVED = 10
#: Longest string taken out of one route.
MAX_STRING = 10


def ruin(
    state: RoutesState,
    technicians: tuple[int, ...],
    rng: random.Random,
    around: int | None = None,
) -> list[int]:
    """Remove strings of jobs near a seed from some of ``technicians``' routes.

    The seed is ``around`` when given (a job left out, to make room for it near
    where it is), otherwise one of the routes' jobs at random.

    Jobs under way (a route's fixed prefix) and warehouse calls stay; each route
    is re-timed, so the state stays valid and the removed jobs are unassigned.
    Returns the jobs removed (none: none of them may move).
    """
    net = state.net
    owner: dict[int, int] = {}
    for technician in technicians:
        route = state.routes[technician]
        for visit in route[state.fixed[technician] :]:
            if net.is_job(visit):
                owner[visit] = technician
    if not owner:
        return []
    string_cap = min(MAX_STRING, len(owner) / len(set(owner.values())))
    routes_to_ruin = int(rng.uniform(1, 4 * AVERAGE_REMOVED / (1 + string_cap)))
    jobs = np.fromiter(owner, dtype=np.int64, count=len(owner))
    seed = int(jobs[rng.randrange(len(jobs))]) if around is None else around
    ruined: dict[int, set[int]] = {}
    for job in jobs[np.argsort(net.travel[seed, jobs], kind="stable")].tolist():
        technician = owner[job]
        if technician in ruined:
            continue
        route = state.routes[technician]
        positions = [p for p in range(state.fixed[technician], len(route)) if net.is_job(route[p])]
        length = int(rng.uniform(1, min(len(positions), string_cap) + 1))
        at = positions.index(route.index(job))
        first = rng.randint(max(0, at - length + 1), min(at, len(positions) - length))
        ruined[technician] = set(positions[first : first + length])
        if len(ruined) >= routes_to_ruin:
            break
    removed_jobs = []
    for technician, removed in ruined.items():
        route = state.routes[technician]
        removed_jobs += [route[p] for p in sorted(removed)]
        visits = [v for p, v in enumerate(route) if p not in removed]
        state.clear(technician)
        state.commit_valid_prefix(technician, visits)
    return removed_jobs

"""Emergency insertion from the database: who could take one new job, and when.

A dispatcher on the phone with a customer asks "when can someone come?". The answer is
the engine's insertion candidates (``optimizer.insertion_candidates``) for the job on
the day's published plan as the day stands now: each technician who could take it
without re-planning anyone else, ranked by what it adds to the plan's score, with the
planned arrival as a real instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from dispatch.days import service_day
from dispatch.db import utcnow
from dispatch.planning.clock import DayClock
from dispatch.planning.edits import current_solution
from dispatch.planning.problem import PlanningError, build_problem
from dispatch.planning.proposals import published
from optimizer import insertion_candidates, why_no_candidate


class NotACandidateJob(LookupError):
    """The job is not an open, unplanned job of the day."""


@dataclass(frozen=True, slots=True)
class Offer:
    """One technician's best way to take the job, in a dispatcher's units."""

    technician: str
    position: int  # the technician's jobs before it
    arrival: datetime
    start: datetime
    end: datetime
    added_travel_min: float
    delay_min: float  # how much later the technician's other jobs start, summed
    added_lateness_min: float  # more SLA lateness of those jobs, summed
    lateness_min: float  # the job's own finish after its SLA due time
    score_change: float
    warehouse_call: str | None


@dataclass(frozen=True, slots=True)
class Offers:
    """The offers, best first; when there are none, why nobody can take the job."""

    job: str
    offers: list[Offer]
    reason: str | None


def emergency_candidates(session: Session, day: date, job: str, *, limit: int = 10) -> Offers:
    """Who could take open job ``job`` (a reference) on ``day``, best first.

    Raises
    ------
    PlanningError
        The day cannot be planned as stored.
    NotACandidateJob
        No open job of the day has that reference, or the published plan routes it
        already (moving it is an edit).
    """
    problem = build_problem(session, day, now=utcnow())
    if job not in {j.id for j in problem.jobs}:
        raise NotACandidateJob(f"{job} is not an open job of {day.isoformat()}")
    current = published(session, day)
    solution = current_solution(problem, current[1].document if current else None)
    holder = next((r.technician for r in solution.routes if job in r.job_ids), None)
    if holder is not None:
        raise NotACandidateJob(f"{job} is planned already, with {holder}: move it instead")
    settings = service_day(session, day)
    if settings is None:  # build_problem has refused such a day already
        raise PlanningError([f"date: no service day on {day.isoformat()}"])
    clock = DayClock.of(day, settings.timezone)
    found = insertion_candidates(problem, solution, job, limit=limit)
    minute = problem.ticks_per_minute
    offers = [
        Offer(
            technician=c.technician,
            position=c.position,
            arrival=clock.instant(c.arrival),
            start=clock.instant(c.start),
            end=clock.instant(c.end),
            added_travel_min=round(c.added_travel / minute, 1),
            delay_min=round(c.delay / minute, 1),
            added_lateness_min=round(c.added_lateness / minute, 1),
            lateness_min=round(c.lateness / minute, 1),
            score_change=round(c.score_change, 1),
            warehouse_call=c.warehouse_call,
        )
        for c in found
    ]
    reason = None
    if not offers:
        why = why_no_candidate(problem, solution, job)
        reason = why.reason if why is not None else "no technician can take it"
    return Offers(job, offers, reason)

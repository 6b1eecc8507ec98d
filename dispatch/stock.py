"""What plans and job moves mean for stock, told to the inventory in the same transaction.

Publishing a plan reserves each routed job's parts where its route gets them (the
van, or the warehouse it calls at first); a job that leaves the plan or its day, is
cancelled or finishes gives its reservations up. The inventory knows jobs by id only:
references are mapped here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.audit import SYSTEM_ACTOR
from dispatch.enums import JobStatus
from dispatch.models import Job, Technician
from inventory import reservations
from inventory.ledger import Actor
from optimizer import StopKind

#: A job in one of these holds its parts; in any other it holds none.
HOLDING_STATUSES = frozenset(
    {
        JobStatus.SCHEDULED,
        JobStatus.DISPATCHED,
        JobStatus.EN_ROUTE,
        JobStatus.ON_SITE,
        JobStatus.PAUSED,
    }
)


def actor_of(session: Session) -> Actor:
    """Who the session's changes are made by (``dispatch.audit.set_actor``), for the ledger."""
    user_id, name = session.info.get("actor", (None, SYSTEM_ACTOR))
    return Actor(user_id, name)


def release_parts(session: Session, job: Job, reason: str) -> None:
    """Give up what is held for a job that no longer holds parts."""
    if job.id is not None:
        reservations.release_job(session, job.id, actor=actor_of(session), reason=reason)


def reserve_plan(
    session: Session, day: date, document: Mapping[str, Any], *, plan_id: int
) -> dict[str, dict[str, int]]:
    """Make the day's reservations what a published plan's routes need.

    Jobs the plan routes but which no longer hold parts (finished or cancelled since
    it was built) are left out. Returns the jobs waiting for stock, by reference.
    """
    codes = [route["technician"] for route in document["routes"]]
    technicians = {
        code: technician_id
        for code, technician_id in session.execute(
            select(Technician.code, Technician.id).where(Technician.code.in_(codes))
        )
    }
    references = [
        stop["id"]
        for route in document["routes"]
        for stop in route["stops"]
        if stop["type"] == StopKind.JOB
    ]
    jobs = {
        job.reference: job
        for job in session.scalars(
            select(Job).where(Job.reference.in_(references)).options(selectinload(Job.parts))
        )
        if job.status in HOLDING_STATUSES
    }
    routes = []
    for route in document["routes"]:
        stops: list[reservations.Pickup | reservations.Visit] = []
        for stop in route["stops"]:
            if stop["type"] == StopKind.WAREHOUSE:
                stops.append(reservations.Pickup(stop["id"], stop["pickup"]))
            elif stop["type"] == StopKind.JOB and stop["id"] in jobs:
                job = jobs[stop["id"]]
                stops.append(
                    reservations.Visit(job.id, {part.sku: part.quantity for part in job.parts})
                )
        routes.append(reservations.VanRoute(technicians[route["technician"]], stops))
    reservations.reserve_day(
        session,
        day,
        routes,
        plan_id=plan_id,
        actor=actor_of(session),
        reason=f"plan {plan_id} published",
    )
    return waiting_for_stock(session, day)


def waiting_for_stock(session: Session, day: date) -> dict[str, dict[str, int]]:
    """The day's jobs whose parts the stock could not hold: reference -> SKU -> units."""
    short = reservations.shortages(session, day)
    references = job_references(session, short)
    return {references[job_id]: parts for job_id, parts in sorted(short.items())}


def job_references(session: Session, job_ids: Iterable[int]) -> dict[int, str]:
    """Job id -> reference, for what the inventory knows by job id."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    return {
        job_id: reference
        for job_id, reference in session.execute(
            select(Job.id, Job.reference).where(Job.id.in_(ids))
        )
    }

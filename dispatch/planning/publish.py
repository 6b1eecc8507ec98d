"""Publishing a plan: the jobs take its assignments and times, in one transaction.

The day's version (``DayPlan.version``) moves on by one with a conditional UPDATE on
the version the plan was built on, so a plan built on an older published plan, or two
dispatchers publishing or editing at once, can never overwrite a change unseen: the
loser gets ``StalePlan`` (the API's 409). Jobs move through the lifecycle (triaged ->
scheduled; a job leaving the plan goes back to triaged); jobs under way only take new
times. The routed jobs' parts are reserved where the routes get them (``dispatch.stock``).
Each technician whose route changed gets an event in the log and a ``route.published``
entry in the feed their phone follows (``dispatch.feed``), saying what changed and why,
written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from dispatch import feed
from dispatch.audit import SYSTEM_ACTOR
from dispatch.days import PLANNABLE_STATUSES
from dispatch.db import savepoint, utcnow
from dispatch.enums import JobStatus, PlanStatus
from dispatch.lifecycle import transition
from dispatch.models import DayPlan, Event, Job, Plan, ServiceRequest, Technician
from dispatch.planning.problem import UNDER_WAY
from dispatch.planning.proposals import (
    ProposalClosed,
    get_plan,
    published_version,
    resequenced,
)
from dispatch.stock import reserve_plan
from optimizer import StopKind

#: ``Event.entity_type`` of the per-technician route events.
ROUTE_EVENT = "technician_route"
ROUTE_CHANGED = "route_changed"
#: Kind of the feed entry telling a technician their route was published anew.
ROUTE_PUBLISHED = "route.published"


class StalePlan(Exception):
    """The day's published plan changed since the plan or edit was built on it."""

    def __init__(self, day: date, expected: int, current: int) -> None:
        self.service_date = day
        self.expected = expected
        self.current = current
        super().__init__(
            f"the plan of {day.isoformat()} is at version {current}, not {expected}:"
            " it changed since this was built on it; reload and try again"
        )


@dataclass(frozen=True, slots=True)
class Visit:
    """One job of a route as a plan states it."""

    job: str
    start: datetime
    end: datetime


def publish(
    session: Session, plan_id: int, *, user_id: int | None, expected_version: int | None = None
) -> Plan:
    """Make a proposal the day's plan.

    Parameters
    ----------
    expected_version
        The published version the caller saw (a manual edit's ``If-Match``); by
        default the version the proposal was built on.

    Raises
    ------
    PlanNotFound, ProposalClosed
        No such plan, or it is not a proposal any more.
    StalePlan
        The day's published plan is no longer at the expected version.
    TransitionRefused
        A job the plan routes cannot be scheduled (e.g. it needs approval first).
    """
    plan = get_plan(session, plan_id, lock=True)
    if plan.status != PlanStatus.PROPOSED:
        raise ProposalClosed(plan)
    expected = plan.base_version if expected_version is None else expected_version
    previous = _advance(session, plan.service_date, expected=expected, plan_id=plan.id)
    if previous is not None:
        session.execute(
            update(Plan).where(Plan.id == previous).values(status=PlanStatus.SUPERSEDED)
        )
    changes = apply_routes(session, plan.service_date, routes_in(plan.document))
    reserve_plan(session, plan.service_date, plan.document, plan_id=plan.id)
    plan.status = PlanStatus.PUBLISHED
    plan.version = expected + 1
    plan.decided_at = utcnow()
    plan.decided_by_id = user_id
    _route_events(session, plan, changes)
    session.flush()
    return plan


def routes_in(document: Mapping[str, Any]) -> dict[str, list[Visit]]:
    """Each technician's job visits, in order, from a ``fieldops-plan/1`` document."""
    return {
        route["technician"]: [
            Visit(
                stop["id"],
                datetime.fromisoformat(stop["start"]),
                datetime.fromisoformat(stop["end"]),
            )
            for stop in route["stops"]
            if stop["type"] == StopKind.JOB
        ]
        for route in document["routes"]
    }


@dataclass
class RouteChange:
    """What one technician's route gains and loses, for their event."""

    technician: Technician
    added: list[str]
    removed: list[str]
    resequenced: bool


def apply_routes(
    session: Session, day: date, routes: Mapping[str, Sequence[Visit]]
) -> list[RouteChange]:
    """Give the day's open jobs the routes' assignments and times; jobs left out go back.

    A routed job the day no longer plans (cancelled or completed meanwhile) is left
    as it is. Returns each technician's change, for the route events.
    """
    jobs = {
        job.reference: job
        for job in session.scalars(
            select(Job)
            .where(Job.service_date == day, Job.status.in_(PLANNABLE_STATUSES))
            .options(
                selectinload(Job.request).selectinload(ServiceRequest.catalog_item),
                selectinload(Job.technician),
            )
            .order_by(Job.planned_start, Job.id)
        )
    }
    technicians = {
        t.code: t for t in session.scalars(select(Technician).where(Technician.code.in_(routes)))
    }
    before: dict[int, list[str]] = {}
    everyone = {t.id: t for t in technicians.values()}
    for open_job in jobs.values():
        if open_job.technician is not None:
            before.setdefault(open_job.technician.id, []).append(open_job.reference)
            everyone[open_job.technician.id] = open_job.technician
    after: dict[int, list[str]] = {}
    for code, visits in routes.items():
        technician = technicians[code]
        for visit in visits:
            job = jobs.get(visit.job)
            if job is not None:
                _assign(session, job, technician, visit)
                after.setdefault(technician.id, []).append(job.reference)
    routed = {reference for references in after.values() for reference in references}
    for reference, job in jobs.items():
        if reference not in routed and job.technician_id is not None:
            _unassign(session, job)
    session.flush()
    return [
        RouteChange(
            technician=everyone[tech_id],
            added=[j for j in after.get(tech_id, []) if j not in before.get(tech_id, [])],
            removed=[j for j in before.get(tech_id, []) if j not in after.get(tech_id, [])],
            resequenced=resequenced(before.get(tech_id, []), after.get(tech_id, [])),
        )
        for tech_id in sorted(set(before) | set(after))
    ]


def _assign(session: Session, job: Job, technician: Technician, visit: Visit) -> None:
    if job.status in UNDER_WAY:  # started work keeps its technician; only times move
        job.planned_start, job.planned_end = visit.start, visit.end
        return
    if job.status == JobStatus.SCHEDULED or (
        job.status == JobStatus.DISPATCHED and job.technician_id == technician.id
    ):
        job.technician_id = technician.id
        job.planned_start, job.planned_end = visit.start, visit.end
        return
    # Triaged -> scheduled; dispatched to someone else -> recalled and scheduled anew.
    transition(
        session,
        job,
        JobStatus.SCHEDULED,
        technician_id=technician.id,
        planned_start=visit.start,
        planned_end=visit.end,
    )


def _unassign(session: Session, job: Job) -> None:
    if job.status in UNDER_WAY:
        return  # never taken off by a plan: build_problem pins it to its route
    if job.status == JobStatus.DISPATCHED:
        transition(session, job, JobStatus.SCHEDULED, **_kept(job))
    if job.status == JobStatus.SCHEDULED:
        transition(session, job, JobStatus.TRIAGED)


def _kept(job: Job) -> dict[str, Any]:
    return {
        "technician_id": job.technician_id,
        "planned_start": job.planned_start,
        "planned_end": job.planned_end,
    }


def _advance(session: Session, day: date, *, expected: int, plan_id: int) -> int | None:
    """Move the day's version from ``expected`` on by one; the plan it replaced, if any.

    Raises
    ------
    StalePlan
        The version is not ``expected`` (or another first publish won the race).
    """
    if expected == 0:
        try:
            with savepoint(session):
                session.add(DayPlan(service_date=day, version=1, plan_id=plan_id))
                session.flush()
        except IntegrityError:
            raise StalePlan(day, 0, published_version(session, day)) from None
        return None
    previous = session.scalar(
        select(DayPlan.plan_id).where(DayPlan.service_date == day, DayPlan.version == expected)
    )
    moved = session.scalar(
        update(DayPlan)
        .where(DayPlan.service_date == day, DayPlan.version == expected)
        .values(version=expected + 1, plan_id=plan_id, updated_at=utcnow())
        .returning(DayPlan.service_date)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        raise StalePlan(day, expected, published_version(session, day))
    return previous


def _route_events(session: Session, plan: Plan, changes: list[RouteChange]) -> None:
    user_id, actor = session.info.get("actor", (None, SYSTEM_ACTOR))
    for change in changes:
        if not (change.added or change.removed or change.resequenced):
            continue
        what = {
            "technician": change.technician.code,
            "service_date": plan.service_date.isoformat(),
            "plan_id": plan.id,
            "version": plan.version,
            "added": change.added,
            "removed": change.removed,
            "resequenced": change.resequenced,
            "reason": plan.reason,
        }
        session.add(
            Event(
                actor_user_id=user_id,
                actor=actor,
                entity_type=ROUTE_EVENT,
                entity_id=str(change.technician.id),
                action=ROUTE_CHANGED,
                changes=what,
            )
        )
        # The phone re-reads the route (warehouse calls and breaks move with the jobs).
        feed.record(
            session,
            ROUTE_PUBLISHED,
            technician_id=change.technician.id,
            service_date=plan.service_date,
            payload=what,
        )

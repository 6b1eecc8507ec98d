"""The triage queue: new jobs intake could not triage, and a dispatcher's hand to triage them.

Intake triages a request itself when its catalog item gives the planner everything
(``triage_gaps``). The rest wait here, oldest first, each with what it lacks, until a
dispatcher classifies it with ``triage_by_hand``. Both paths end the same way: a
triaged job gets its service date from ``dispatch.service_dates``; a job waiting for
approval gets one when it is approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.enums import JobStatus, Level
from dispatch.intake.schemas import FieldError, IntakeError
from dispatch.intake.triage import triage, triage_gaps
from dispatch.lifecycle import transition
from dispatch.models import Job, ServiceRequest
from dispatch.service_dates import DEFAULT_HORIZON_DAYS, ServiceDateRefused, assign_service_date


@dataclass(frozen=True)
class QueuedJob:
    """A job waiting to be triaged, and what kept intake from triaging it."""

    job: Job
    missing: tuple[str, ...]


def triage_queue(session: Session) -> list[QueuedJob]:
    """Every new job, oldest first, each with what it lacks for automatic triage."""
    jobs = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.NEW)
        .options(selectinload(Job.request).selectinload(ServiceRequest.catalog_item))
        .order_by(Job.created_at, Job.id)
    )
    return [QueuedJob(job, tuple(triage_gaps(job))) for job in jobs]


def triage_by_hand(
    session: Session,
    job: Job,
    *,
    now: datetime,
    catalog_code: str | None = None,
    impact: Level | None = None,
    urgency: Level | None = None,
    service_date: date | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> Job:
    """Triage a queued job as a dispatcher decides, then give it its service date.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work; changes are flushed, not committed.
    job : Job
        A job in status ``new``.
    now : datetime
        Aware instant of the decision; today is its date in the service area.
    catalog_code, impact, urgency
        As for ``dispatch.intake.triage``: left out, the request's values stay.
    service_date : date, optional
        The day to plan it on; without it, the day the request asked for, else the
        first day that can take it.
    horizon_days : int
        How many days from today the automatic choice tries.

    Returns
    -------
    Job
        ``triaged`` with a service date, or with none and ``no_date_reason``; or
        ``awaiting_approval`` when its catalog item needs approval.

    Raises
    ------
    IntakeError
        An unknown catalog code or missing assessment (nothing changed), or a
        service date that cannot take the reclassified job: the job is already
        reclassified in the session then, so the caller must roll back.
    TransitionRefused
        If the job is not new.
    """
    triage(session, job, catalog_code=catalog_code, impact=impact, urgency=urgency)
    if job.status == JobStatus.TRIAGED:
        try:
            assign_service_date(
                session,
                job,
                now=now,
                requested=service_date or job.service_date,
                horizon_days=horizon_days,
            )
        except ServiceDateRefused as exc:
            raise IntakeError([FieldError("service_date", str(exc))]) from None
        session.flush()
    return job


def approve(
    session: Session, job: Job, *, now: datetime, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> Job:
    """Approve a job waiting for approval: it is triaged and gets its service date.

    The day the request asked for is kept when it can still take the job; otherwise
    (it passed while the job waited, say) the first day that can is chosen.

    Raises
    ------
    TransitionRefused
        If the job is not awaiting approval.
    """
    transition(session, job, JobStatus.TRIAGED)
    try:
        assign_service_date(
            session, job, now=now, requested=job.service_date, horizon_days=horizon_days
        )
    except ServiceDateRefused:
        assign_service_date(session, job, now=now, horizon_days=horizon_days)
    session.flush()
    return job

"""What one service day holds: who works, and which jobs are open for it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.enums import JobStatus
from dispatch.models import Job, ServiceDay, Technician

#: Jobs the planner must place or keep: not yet done, not parked, not waiting to be triaged.
PLANNABLE_STATUSES = (
    JobStatus.TRIAGED,
    JobStatus.SCHEDULED,
    JobStatus.DISPATCHED,
    JobStatus.EN_ROUTE,
    JobStatus.ON_SITE,
    JobStatus.PAUSED,
)


def service_day(session: Session, day: date) -> ServiceDay | None:
    return session.get(ServiceDay, day)


def technicians_working(session: Session, day: date) -> list[Technician]:
    """Active technicians with a shift on ``day`` (weekly hours, minus days off), by code."""
    technicians = session.scalars(
        select(Technician)
        .where(Technician.active)
        .options(selectinload(Technician.working_hours), selectinload(Technician.days_off))
        .order_by(Technician.id)
    )
    return [t for t in technicians if t.shift_on(day) is not None]


def plannable_jobs(session: Session, day: date) -> list[Job]:
    """Open jobs planned for ``day``, with everything the planner reads loaded up front."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.service_date == day, Job.status.in_(PLANNABLE_STATUSES))
            .options(
                selectinload(Job.site),
                selectinload(Job.parts),
                selectinload(Job.pinned_technician),
                selectinload(Job.technician),
            )
            .order_by(Job.id)
        )
    )

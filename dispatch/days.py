"""What one service day holds: who works, and which jobs are open for it."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
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


def latest_service_day(session: Session) -> date | None:
    """The last day that has been set up, the one a dispatcher most likely wants."""
    return session.scalar(select(func.max(ServiceDay.day)))


def service_area_zone(session: Session) -> ZoneInfo:
    """The time zone dispatch counts days in: the latest service day's, UTC before any is set up.

    Service days are set up per area (``import-scenario``); one installation serves one area.
    """
    latest = latest_service_day(session)
    day = service_day(session, latest) if latest is not None else None
    return ZoneInfo(day.timezone if day is not None else "UTC")


def technician_of_user(session: Session, user_id: int) -> Technician | None:
    """The technician whose sign-in is ``user_id``, if the account is linked to one."""
    return session.scalar(select(Technician).where(Technician.user_id == user_id))


def technician_jobs(session: Session, technician_id: int, day: date) -> list[Job]:
    """One technician's jobs on ``day`` in planned order, with site and parts loaded."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.technician_id == technician_id, Job.service_date == day)
            .options(selectinload(Job.site), selectinload(Job.parts))
            .order_by(Job.planned_start, Job.id)
        )
    )


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

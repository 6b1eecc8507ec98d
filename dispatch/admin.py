"""What administrators change: users' roles and sign-in, technicians' weeks and days off.

Each function checks the change against what the rest of dispatch relies on (a
technician account keeps its role while linked, an administrator cannot lock
themselves out, a shift ends after it starts) and refuses with a message for the
person who asked. Functions flush, never commit; the event log records every change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from dispatch.devices import revoke
from dispatch.enums import Role
from dispatch.field_models import Device
from dispatch.models import (
    CatalogItem,
    Job,
    Technician,
    User,
    UserRole,
    UserSession,
    WorkingHours,
)
from dispatch.planning.live import Unavailability, technician_unavailable
from dispatch.planning.policy import ReplanPolicy
from dispatch.planning.problem import UNDER_WAY
from dispatch.users import AccountError

#: Shorter shifts are typing errors (08:00-08:10); longer ones no one works.
MIN_SHIFT = timedelta(minutes=30)
MAX_SHIFT = timedelta(hours=16)
#: Days off are recorded for planning, which looks this far ahead at most.
DAYS_OFF_AHEAD = timedelta(days=2 * 366)
#: Width of ``days_off.reason``.
REASON_LENGTH = 200
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleError(ValueError):
    """A technician's week or day off cannot be changed as asked; ``problems`` maps each
    bad field (a weekday number, ``"day"`` or ``"reason"``) to what is wrong with it."""

    def __init__(self, problems: Mapping[int | str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(self.problems.values()))


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the administrator's list shows it, with the technician they sign in as."""

    user: User
    technician: Technician | None


def accounts(session: Session) -> list[Account]:
    """Every user by username, with the technician each is linked to."""
    linked = {
        technician.user_id: technician
        for technician in session.scalars(select(Technician).where(Technician.user_id.isnot(None)))
    }
    users = session.scalars(select(User).order_by(User.username))
    return [Account(user, linked.get(user.id)) for user in users]


def technicians(session: Session) -> Sequence[Technician]:
    """Every technician by code, with weekly hours and days off loaded."""
    return session.scalars(
        select(Technician)
        .options(selectinload(Technician.working_hours), selectinload(Technician.days_off))
        .order_by(Technician.code)
    ).all()


def technician(session: Session, code: str) -> Technician | None:
    """The technician with ``code``, or None."""
    return session.scalar(select(Technician).where(Technician.code == code))


def catalog_items(session: Session) -> Sequence[CatalogItem]:
    """Every catalog item, retired ones included, by code (SLA targets come with them)."""
    return session.scalars(select(CatalogItem).order_by(CatalogItem.code)).all()


def set_roles(session: Session, user: User, roles: Collection[Role], *, by: User) -> None:
    """Give ``user`` exactly ``roles``; flushes, never commits.

    Raises
    ------
    AccountError
        No role is left; ``by`` would drop their own admin role (nobody else may be
        left to give it back); or the user is linked to a technician and would lose
        the technician role (unlink first: the phone's jobs follow the link).
    """
    wanted = set(roles)
    if not wanted:
        raise AccountError("a user needs at least one role")
    if user.id == by.id and Role.ADMIN not in wanted:
        raise AccountError("you cannot remove your own admin role; ask another administrator")
    if Role.TECHNICIAN not in wanted:
        linked = _linked_technician(session, user)
        if linked is not None:
            raise AccountError(
                f"{user.username!r} signs in as technician {linked.code}: unlink the"
                " technician before removing the technician role"
            )
    kept = [role for role in user.roles if role.role in wanted]
    have = {role.role for role in kept}
    user.roles = kept + [
        UserRole(role=role) for role in sorted(wanted - have, key=list(Role).index)
    ]
    session.flush()


def unlink_technician(session: Session, user: User) -> Technician:
    """End the link between ``user`` and their technician; flushes, never commits.

    Raises
    ------
    AccountError
        The user is not linked to a technician.
    """
    technician = _linked_technician(session, user)
    if technician is None:
        raise AccountError(f"{user.username!r} is not linked to a technician")
    technician.user_id = None
    session.flush()
    return technician


def set_active(session: Session, user: User, active: bool, *, by: User) -> None:
    """Let ``user`` sign in again, or stop them: deactivating ends every sign-in and
    revokes their phones at once; flushes, never commits.

    Raises
    ------
    AccountError
        ``by`` would deactivate themselves.
    """
    if not active and user.id == by.id:
        raise AccountError("you cannot deactivate your own account")
    if user.active == active:
        return
    user.active = active
    if not active:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        for device in session.scalars(
            select(Device).where(Device.user_id == user.id, Device.revoked_at.is_(None))
        ):
            revoke(session, device.id, "account deactivated")
    session.flush()


def set_working_hours(
    session: Session, technician: Technician, week: Mapping[int, tuple[time, time] | None]
) -> None:
    """Replace the technician's weekly shifts: ``week`` maps each weekday (0 = Monday)
    to its start and end, or None for a day not worked; flushes, never commits.

    Work under way cannot go to someone else (``build_problem`` refuses a day with work
    under way by a technician who does not work it), so a weekday with a job under way
    keeps a shift until the job is done.

    Raises
    ------
    ScheduleError
        Naming every weekday whose shift does not end after it starts, lasts less than
        30 minutes or more than 16 hours, or would be dropped while the technician has a
        job under way on such a day; nothing is changed.
    """
    problems: dict[int | str, str] = {}
    for job in session.scalars(
        select(Job).where(Job.technician_id == technician.id, Job.status.in_(UNDER_WAY))
    ):
        weekday = job.service_date.weekday() if job.service_date is not None else None
        if weekday is not None and week.get(weekday) is None:
            problems[weekday] = (
                f"{WEEKDAYS[weekday]}: {technician.code} has job {job.reference} under way"
                f" on {job.service_date}; the day keeps a shift until it is done"
            )
    for weekday, shift in sorted(week.items()):
        if not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
        if shift is None or weekday in problems:
            continue
        start, end = shift
        length = _minutes(end) - _minutes(start)
        if length <= 0:
            problems[weekday] = f"{WEEKDAYS[weekday]}: the shift must end after it starts"
        elif not MIN_SHIFT <= timedelta(minutes=length) <= MAX_SHIFT:
            problems[weekday] = (
                f"{WEEKDAYS[weekday]}: a shift lasts {_hours(MIN_SHIFT)} to {_hours(MAX_SHIFT)}"
            )
    if problems:
        raise ScheduleError(problems)
    current = {hours.weekday: hours for hours in technician.working_hours}
    kept = []
    for weekday in range(7):
        shift = week.get(weekday)
        if shift is None:
            continue
        hours = current.get(weekday) or WorkingHours(weekday=weekday)
        hours.start_time, hours.end_time = shift
        kept.append(hours)
    technician.working_hours = kept
    session.flush()


def add_day_off(
    session: Session,
    technician: Technician,
    day: date,
    reason: str,
    *,
    today: date,
    policy: ReplanPolicy,
) -> Unavailability:
    """Record a day off from ``today`` on; the technician's jobs that day are re-planned
    (``technician_unavailable``); flushes, never commits.

    Raises
    ------
    ScheduleError
        The day is past, more than two years ahead or already off; the reason is
        blank, too long or holds control characters.
    """
    problems: dict[int | str, str] = {}
    if day < today:
        problems["day"] = "a day off is recorded from today on (past days are kept as they were)"
    elif day > today + DAYS_OFF_AHEAD:
        problems["day"] = "a day off can be recorded at most two years ahead"
    elif any(off.day == day for off in technician.days_off):
        problems["day"] = f"{day.isoformat()} is a day off already"
    if not reason.strip() or len(reason) > REASON_LENGTH:
        problems["reason"] = f"say why, in 1 to {REASON_LENGTH} characters"
    elif any(ord(character) < 32 or ord(character) == 127 for character in reason):
        problems["reason"] = "the reason must not contain control characters"
    if problems:
        raise ScheduleError(problems)
    return technician_unavailable(session, technician, day, reason.strip(), policy=policy)


def remove_day_off(session: Session, technician: Technician, day: date, *, today: date) -> None:
    """Make ``day`` a working day again (as the weekly hours say); flushes, never commits.

    Jobs sent back for re-planning when the day off was added stay where they are now.

    Raises
    ------
    ScheduleError
        The day is not a day off of the technician, or it is past (kept for the record).
    """
    off = next((off for off in technician.days_off if off.day == day), None)
    if off is None:
        raise ScheduleError({"day": f"{day.isoformat()} is not a day off of {technician.code}"})
    if day < today:
        raise ScheduleError({"day": "past days off are kept for the record"})
    technician.days_off.remove(off)
    session.flush()


def _linked_technician(session: Session, user: User) -> Technician | None:
    return session.scalar(select(Technician).where(Technician.user_id == user.id))


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} minutes"

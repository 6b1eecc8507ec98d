"""What administrators change: roles, sign-in, weekly hours and days off, and what they refuse."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.accounts import link_technician
from dispatch.admin import (
    ScheduleError,
    add_day_off,
    remove_day_off,
    set_active,
    set_roles,
    set_working_hours,
)
from dispatch.enums import JobStatus, Role
from dispatch.models import DayOff, Event, User, UserSession
from dispatch.planning.policy import ReplanPolicy
from dispatch.users import AccountError, create_user, start_session
from tests.helpers import make_job, make_technician

TODAY = date(2026, 11, 23)  # a Monday


def user(session: Session, username: str, *roles: Role) -> User:
    return create_user(
        session,
        username=username,
        password="correct horse battery",
        roles=list(roles),
        full_name=username.title(),
    )


def roles_of(account: User) -> set[Role]:
    return {role.role for role in account.roles}


def test_roles_are_replaced_but_an_admin_keeps_their_own(session: Session) -> None:
    """Roles become exactly those given (logged); dropping one's own admin role is refused."""
    admin = user(session, "ada", Role.ADMIN)
    other = user(session, "bo", Role.REQUESTER)
    session.commit()

    set_roles(session, other, [Role.DISPATCHER, Role.WAREHOUSE], by=admin)
    session.commit()
    assert roles_of(other) == {Role.DISPATCHER, Role.WAREHOUSE}
    logged = session.scalars(select(Event.action).where(Event.entity_type == "user_roles"))
    assert sorted(logged) == ["created", "created", "created", "created", "deleted"]

    with pytest.raises(AccountError, match="your own admin role"):
        set_roles(session, admin, [Role.DISPATCHER], by=admin)
    with pytest.raises(AccountError, match="at least one role"):
        set_roles(session, other, [], by=admin)
    assert roles_of(admin) == {Role.ADMIN}


def test_a_linked_technician_account_keeps_the_technician_role(session: Session) -> None:
    """The phone's jobs follow the link, so the role goes only after unlinking."""
    admin = user(session, "ada", Role.ADMIN)
    tech = user(session, "tove", Role.TECHNICIAN)
    make_technician(session, "T-01")
    link_technician(session, "tove", "T-01")

    with pytest.raises(AccountError, match="unlink the technician"):
        set_roles(session, tech, [Role.REQUESTER], by=admin)
    assert roles_of(tech) == {Role.TECHNICIAN}


def test_deactivating_ends_sign_ins_but_not_ones_own(session: Session) -> None:
    """A deactivated user's sign-ins are deleted; an admin cannot deactivate themselves."""
    admin = user(session, "ada", Role.ADMIN)
    other = user(session, "bo", Role.DISPATCHER)
    start_session(session, other, lifetime=timedelta(hours=1))

    set_active(session, other, False, by=admin)
    assert not other.active
    assert session.scalars(select(UserSession).where(UserSession.user_id == other.id)).all() == []
    with pytest.raises(AccountError, match="your own account"):
        set_active(session, admin, False, by=admin)


def test_working_hours_are_replaced_and_a_bad_shift_changes_nothing(session: Session) -> None:
    """A week with a shift ending before it starts, too short, or dropping a day with work
    under way is refused whole."""
    technician = make_technician(session)  # 08:00-16:00 Monday to Friday

    with pytest.raises(ScheduleError) as refused:
        set_working_hours(
            session,
            technician,
            {0: (time(7), time(15)), 1: (time(16), time(8)), 2: (time(9), time(9, 10))},
        )
    assert set(refused.value.problems) == {1, 2}
    assert "end after it starts" in refused.value.problems[1]
    assert [(h.weekday, h.start_time, h.end_time) for h in technician.working_hours] == [
        (weekday, time(8), time(16)) for weekday in range(5)
    ]

    started = make_job(session, status=JobStatus.EN_ROUTE)
    started.technician_id, started.service_date = technician.id, TODAY  # a Monday
    with pytest.raises(ScheduleError) as refused:
        set_working_hours(session, technician, {1: (time(8), time(16))})
    assert set(refused.value.problems) == {0}
    assert "J-0001 under way" in refused.value.problems[0]

    set_working_hours(session, technician, {0: (time(7), time(15)), 5: (time(9), time(13))})
    session.commit()
    assert [(h.weekday, h.start_time, h.end_time) for h in technician.working_hours] == [
        (0, time(7), time(15)),
        (5, time(9), time(13)),
    ]


def test_a_day_off_sends_that_days_jobs_back_and_can_be_removed(session: Session) -> None:
    """Adding a day off re-plans the technician's jobs that day; past or repeated days are
    refused; removing it makes the day a working day again."""
    technician = make_technician(session)
    job = make_job(session, status=JobStatus.SCHEDULED)
    job.technician_id, job.service_date = technician.id, TODAY + timedelta(days=1)
    session.flush()

    done = add_day_off(
        session,
        technician,
        TODAY + timedelta(days=1),
        "course",
        today=TODAY,
        policy=ReplanPolicy(),
    )
    session.commit()
    assert done.returned == (job.reference,)
    assert job.status == JobStatus.TRIAGED
    assert technician.shift_on(TODAY + timedelta(days=1)) is None

    for day, reason, field in [
        (TODAY + timedelta(days=1), "again", "day"),
        (TODAY - timedelta(days=1), "late", "day"),
        (TODAY + timedelta(days=2), " ", "reason"),
    ]:
        with pytest.raises(ScheduleError) as refused:
            add_day_off(session, technician, day, reason, today=TODAY, policy=ReplanPolicy())
        assert set(refused.value.problems) == {field}

    remove_day_off(session, technician, TODAY + timedelta(days=1), today=TODAY)
    session.commit()
    assert session.scalars(select(DayOff)).all() == []
    assert technician.shift_on(TODAY + timedelta(days=1)) is not None

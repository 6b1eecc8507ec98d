"""Tying sign-in accounts to the technicians they work as.

A technician's phone asks for "my jobs": the answer depends on which technician
the signed-in account is, so the link is explicit and one-to-one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import Role
from dispatch.models import Technician, User
from dispatch.users import AccountError


def link_technician(session: Session, username: str, technician_code: str) -> Technician:
    """Make ``username`` sign in as the technician ``technician_code``; flushes, never commits.

    Linking an account to the technician it is already linked to changes nothing.

    Raises
    ------
    AccountError
        No such user or technician, the user lacks the technician role, or either
        side is already linked to someone else.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user named {username!r}")
    if not user.has_role(Role.TECHNICIAN):
        raise AccountError(f"{username!r} does not have the technician role")
    technician = session.scalar(select(Technician).where(Technician.code == technician_code))
    if technician is None:
        raise AccountError(
            f"no technician with code {technician_code!r} (technicians come from"
            " `fieldops import-scenario`)"
        )
    if technician.user_id == user.id:
        return technician
    if technician.user_id is not None:
        holder = session.get_one(User, technician.user_id)
        raise AccountError(
            f"technician {technician.code} ({technician.name}) is already linked to"
            f" {holder.username!r}"
        )
    current = session.scalar(select(Technician).where(Technician.user_id == user.id))
    if current is not None:
        raise AccountError(f"{username!r} is already linked to technician {current.code}")
    technician.user_id = user.id
    session.flush()
    return technician

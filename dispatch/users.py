"""Accounts: creating users with roles, checking passwords, and sign-in sessions."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from dispatch.db import utcnow
from dispatch.devices import revoke
from dispatch.enums import Role
from dispatch.field_models import Device
from dispatch.models import User, UserRole, UserSession

MIN_PASSWORD_LENGTH = 8
#: Longer passwords only make each hash check slower; no person types more.
MAX_PASSWORD_LENGTH = 1024
#: A sign-in name: what fits ``users.username`` and reads the same everywhere it is shown.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}")
#: Widths of ``users.full_name`` and ``users.email``.
FULL_NAME_LENGTH = 200
EMAIL_LENGTH = 254


class AccountError(ValueError):
    """An account cannot be created or changed as asked (name taken, weak password...)."""


class WrongPassword(AccountError):
    """The password given to confirm a change is not the account's password."""


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: list[Role],
    full_name: str,
    email: str | None = None,
) -> User:
    """Add a user with a salted password hash (werkzeug's scrypt); flushes, never commits.

    Every value is checked against its column here, so SQLite and PostgreSQL refuse
    the same accounts with the same message (instead of one storing what the other
    rejects with a driver error).
    """
    username = username.strip()
    if USERNAME_PATTERN.fullmatch(username) is None:
        raise AccountError(
            "a username is 1 to 80 letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit"
        )
    _check_text("full name", full_name, FULL_NAME_LENGTH)
    if email is not None:
        _check_text("e-mail", email, EMAIL_LENGTH)
    _check_password_strength(password)
    if not roles:
        raise AccountError("a user needs at least one role")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username {username!r} is taken")
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        password_hash=generate_password_hash(password),
        roles=[UserRole(role=role) for role in dict.fromkeys(roles)],
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for any failure).

    Every failure costs one password hash check, so an unknown or inactive name takes
    as long as a wrong password and timing does not reveal which names exist.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    stored_hash = user.password_hash if user is not None else _dummy_hash()
    if not check_password_hash(stored_hash, password) or user is None or not user.active:
        return None
    return user


def change_password(
    session: Session, user: User, *, current_password: str, new_password: str
) -> None:
    """Replace the password and end every sign-in of the user, phones included; flushes,
    never commits.

    Raises
    ------
    WrongPassword
        ``current_password`` is not the user's password.
    AccountError
        The new password is too short.
    """
    if not check_password_hash(user.password_hash, current_password):
        raise WrongPassword("the current password is wrong")
    _check_password_strength(new_password)
    user.password_hash = generate_password_hash(new_password)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    for device in session.scalars(
        select(Device).where(Device.user_id == user.id, Device.revoked_at.is_(None))
    ):
        revoke(session, device.id, "password changed")
    session.flush()


def start_session(session: Session, user: User, *, lifetime: timedelta) -> str:
    """Record a new sign-in of ``user``; returns the token for the cookie (stored hashed).

    The user's sign-ins older than ``lifetime`` are deleted on the way, so rows of
    browsers that never signed out do not pile up.
    """
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.created_at < utcnow() - lifetime
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user.id))
    session.flush()
    return token


def session_user(session: Session, token: str, *, lifetime: timedelta) -> User | None:
    """The active user signed in with ``token``, or None if that sign-in has ended or expired."""
    return session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.token_hash == _token_hash(token),
            UserSession.created_at >= utcnow() - lifetime,
            User.active,
        )
    )


def end_session(session: Session, token: str) -> None:
    """Forget the sign-in of ``token`` (signing out); flushes, never commits."""
    session.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))
    session.flush()


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


def _check_text(label: str, value: str, length: int) -> None:
    """Refuse blank or over-long text and control characters (NUL breaks PostgreSQL)."""
    if not value.strip() or len(value) > length:
        raise AccountError(f"{label} must have 1 to {length} characters")
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise AccountError(f"{label} must not contain control characters")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the default method, checked for unknown names."""
    return generate_password_hash(secrets.token_urlsafe(16))

"""Accounts: creating users with roles and checking passwords."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from dispatch.enums import Role
from dispatch.models import User, UserRole

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """An account cannot be created as asked (name taken, weak password...)."""


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: list[Role],
    full_name: str,
    email: str | None = None,
) -> User:
    """Add a user with a salted password hash (werkzeug's scrypt); flushes, never commits."""
    username = username.strip()
    if not username:
        raise AccountError("username must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
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
    """The active user with these credentials, or None (same answer for any failure)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user

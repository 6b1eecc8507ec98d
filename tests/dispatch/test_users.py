"""Accounts: what ``create_user`` refuses, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.enums import Role
from dispatch.models import User
from dispatch.users import AccountError, authenticate, create_user

GOOD: dict[str, Any] = {
    "username": "alice",
    "password": "correct horse battery",
    "roles": [Role.DISPATCHER],
    "full_name": "Alice Andersen",
    "email": "alice@example.org",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"username": ""}, "username"),
        ({"username": "a" * 81}, "username"),
        ({"username": "al\x00ice"}, "username"),
        ({"username": "al ice"}, "username"),
        ({"username": "\x01alice"}, "username"),
        ({"full_name": "A" * 201}, "full name"),
        ({"full_name": "Al\x00ice"}, "control characters"),
        ({"full_name": "   "}, "full name"),
        ({"email": "a" * 250 + "@x.org"}, "e-mail"),
        ({"email": "alice\x00@example.org"}, "control characters"),
        ({"password": "short"}, "at least"),
        ({"password": "p" * 1025}, "at most"),
        ({"roles": []}, "role"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_account_values_a_column_cannot_hold_are_refused(
    session: Session, change: dict[str, Any], message: str
) -> None:
    """Over-long, blank, NUL and control-character values give AccountError and no row."""
    with pytest.raises(AccountError, match=message):
        create_user(session, **{**GOOD, **change})
    session.flush()
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_values_at_their_limits_are_stored_and_sign_in_works(session: Session) -> None:
    """An 80-character username and a 200-character name are kept whole; sign-in works."""
    username = "u" * 80
    create_user(session, **{**GOOD, "username": username, "full_name": "N" * 200})
    session.commit()
    user = authenticate(session, username, GOOD["password"])
    assert user is not None and user.full_name == "N" * 200

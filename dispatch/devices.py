"""Phones signed in as users: bearer tokens for the technician API, rotation, revocation.

Signing a phone in creates a :class:`~dispatch.field_models.Device` with a short-lived
access token (sent with every request) and a long-lived refresh token (exchanged for a
new pair when the access token runs out). Tokens are random and only their SHA-256 is
stored, so a copy of the database holds none that work.

A refresh token is good for one exchange. Presenting one that was exchanged already
means two parties hold it (a copied phone, a stolen backup), and nobody can tell which
is the phone's owner: the device is revoked, and its owner signs in again.

Functions flush, never commit: the caller's transaction decides.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, select, update
from sqlalchemy.orm import Session

from dispatch.db import utcnow
from dispatch.enums import Role
from dispatch.field_models import Device, DeviceToken, TokenKind
from dispatch.models import User, UserRole

#: How long an access token works: short, because it travels with every request.
ACCESS_LIFETIME = timedelta(minutes=15)
#: How long a refresh token works; each exchange gives a new one, so a phone in use stays in.
REFRESH_LIFETIME = timedelta(days=30)
#: ``last_seen_at`` is written at most this often, not on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
#: Width of ``devices.name`` and ``devices.revoked_reason``.
DEVICE_NAME_LENGTH = 100
REASON_LENGTH = 200

REUSED_REASON = "refresh token reused"
SIGNED_OUT_REASON = "signed out"


class InvalidToken(Exception):
    """The token is unknown, expired, or belongs to a revoked device or inactive user."""


class RefreshTokenReused(InvalidToken):
    """A refresh token was presented again after its exchange; the device is now revoked.

    The revocation is flushed: the caller commits it although the exchange failed.
    """


class DeviceNotFound(LookupError):
    """No device has this id."""


@dataclass(frozen=True)
class TokenPair:
    """What a phone receives when it signs in or refreshes; the tokens are shown only here."""

    device_id: int
    access_token: str
    refresh_token: str
    #: Seconds the access token works.
    expires_in: int


def sign_in_device(
    session: Session,
    user: User,
    device_name: str,
    *,
    access_lifetime: timedelta = ACCESS_LIFETIME,
    refresh_lifetime: timedelta = REFRESH_LIFETIME,
) -> TokenPair:
    """Record a new device of ``user`` (already authenticated) and issue its first tokens.

    Raises
    ------
    ValueError
        ``device_name`` is blank, longer than 100 characters or holds control characters.
    """
    name = device_name.strip()
    if not name or len(name) > DEVICE_NAME_LENGTH or _has_control_characters(name):
        raise ValueError(
            f"a device name is 1 to {DEVICE_NAME_LENGTH} characters, none of them control"
            " characters"
        )
    device = Device(user_id=user.id, name=name)
    session.add(device)
    session.flush()
    return _issue(session, device, access_lifetime, refresh_lifetime)


def refresh(
    session: Session,
    refresh_token: str,
    *,
    access_lifetime: timedelta = ACCESS_LIFETIME,
    refresh_lifetime: timedelta = REFRESH_LIFETIME,
) -> TokenPair:
    """Exchange a refresh token for a new pair; the old refresh and access tokens stop working.

    Raises
    ------
    RefreshTokenReused
        The token was exchanged before: the device is revoked (flushed; commit it).
    InvalidToken
        The token is unknown or expired, the device revoked, or the user inactive.
    """
    now = utcnow()
    token = session.get(DeviceToken, token_hash(refresh_token))
    if token is None or token.kind is not TokenKind.REFRESH:
        raise InvalidToken("unknown refresh token; sign in again")
    device = session.get_one(Device, token.device_id)
    if device.revoked_at is not None:
        raise InvalidToken("this device was signed out or revoked; sign in again")
    if token.expires_at <= now:
        raise InvalidToken("the refresh token has expired; sign in again")
    if not session.get_one(User, device.user_id).active:
        raise InvalidToken("this account is deactivated")
    # Spend the token only if nobody has: of two concurrent exchanges one updates the
    # row, the other waits for its commit and then finds the token spent.
    spent = cast(
        CursorResult[Any],
        session.execute(
            update(DeviceToken)
            .where(DeviceToken.token_hash == token.token_hash, DeviceToken.rotated_at.is_(None))
            .values(rotated_at=now)
        ),
    )
    if spent.rowcount != 1:
        revoke(session, device.id, REUSED_REASON)
        raise RefreshTokenReused(
            "this refresh token was used before, so it may have been copied: the device "
            "is revoked; sign in again"
        )
    session.execute(
        delete(DeviceToken).where(
            DeviceToken.device_id == device.id,
            (DeviceToken.kind == TokenKind.ACCESS) | (DeviceToken.expires_at <= now),
        )
    )
    return _issue(session, device, access_lifetime, refresh_lifetime)


@dataclass(frozen=True, slots=True)
class PhoneUser:
    """Who a phone's access token signs in: what a request needs of the user (the same
    names as :class:`~dispatch.models.User` has), read in one query without loading
    the account, so that a phone's frequent requests stay cheap."""

    id: int
    username: str
    roles: frozenset[Role]
    device_id: int
    marked_seen: bool  # this request wrote the device's last_seen_at: commit it

    def has_role(self, role: Role) -> bool:
        return role in self.roles


def device_user(session: Session, access_token: str) -> PhoneUser | None:
    """The active user and unrevoked device of a current access token, or None.

    Marks the device seen (``last_seen_at``), at most once a minute so that a busy
    phone does not write on every request; the caller commits when it did.
    """
    now = utcnow()
    rows = session.execute(_SIGNED_IN, {"token_hash": token_hash(access_token), "now": now}).all()
    if not rows:
        return None
    first = rows[0]
    seen = first.last_seen_at is None or now - first.last_seen_at >= LAST_SEEN_RESOLUTION
    if seen:
        session.execute(update(Device).where(Device.id == first.device_id), {"last_seen_at": now})
    roles = frozenset(row.role for row in rows if row.role is not None)
    return PhoneUser(first.user_id, first.username, roles, first.device_id, seen)


#: Every phone request asks, so the statement is built once: one row per role.
_SIGNED_IN = (
    select(
        User.id.label("user_id"),
        User.username,
        Device.id.label("device_id"),
        Device.last_seen_at,
        UserRole.role,
    )
    .join(Device, Device.user_id == User.id)
    .join(DeviceToken, DeviceToken.device_id == Device.id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(
        DeviceToken.token_hash == bindparam("token_hash"),
        DeviceToken.kind == TokenKind.ACCESS,
        DeviceToken.expires_at > bindparam("now"),
        Device.revoked_at.is_(None),
        User.active,
    )
)


def revoke(session: Session, device_id: int, reason: str) -> Device:
    """End a device's sign-in: its tokens are deleted and it cannot refresh.

    Revoking a revoked device changes nothing (the first reason stays).

    Raises
    ------
    DeviceNotFound
        No device has this id.
    ValueError
        ``reason`` is blank, longer than 200 characters or holds control characters.
    """
    reason = reason.strip()
    if not reason or len(reason) > REASON_LENGTH or _has_control_characters(reason):
        raise ValueError(
            f"a revocation reason is 1 to {REASON_LENGTH} characters, none of them control"
            " characters"
        )
    device = session.get(Device, device_id)
    if device is None:
        raise DeviceNotFound(f"no device with id {device_id}")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_reason = reason
    session.execute(delete(DeviceToken).where(DeviceToken.device_id == device.id))
    session.flush()
    return device


def sign_out(session: Session, access_token: str) -> Device:
    """Revoke the device that holds ``access_token`` (the phone signing itself out).

    Raises
    ------
    InvalidToken
        No device holds this access token.
    """
    device_id = session.scalar(
        select(DeviceToken.device_id).where(
            DeviceToken.token_hash == token_hash(access_token),
            DeviceToken.kind == TokenKind.ACCESS,
        )
    )
    if device_id is None:
        raise InvalidToken("unknown access token")
    return revoke(session, device_id, SIGNED_OUT_REASON)


def devices_of(session: Session, user_id: int | None = None) -> list[tuple[Device, User]]:
    """Devices with their users, newest first: one user's, or everyone's (``None``)."""
    query = select(Device, User).join(User, User.id == Device.user_id)
    if user_id is not None:
        query = query.where(Device.user_id == user_id)
    rows = session.execute(query.order_by(Device.created_at.desc(), Device.id.desc()))
    return [(device, user) for device, user in rows]


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _has_control_characters(text: str) -> bool:
    """Control characters mislead whoever reads the text; NUL breaks PostgreSQL."""
    return any(ord(character) < 32 or ord(character) == 127 for character in text)


def _issue(
    session: Session, device: Device, access_lifetime: timedelta, refresh_lifetime: timedelta
) -> TokenPair:
    now = utcnow()
    access = _add_token(session, device, TokenKind.ACCESS, now + access_lifetime)
    refresh_token = _add_token(session, device, TokenKind.REFRESH, now + refresh_lifetime)
    session.flush()
    return TokenPair(
        device_id=device.id,
        access_token=access,
        refresh_token=refresh_token,
        expires_in=int(access_lifetime.total_seconds()),
    )


def _add_token(session: Session, device: Device, kind: TokenKind, expires_at: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        DeviceToken(
            token_hash=token_hash(token), device_id=device.id, kind=kind, expires_at=expires_at
        )
    )
    return token

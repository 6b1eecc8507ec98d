"""What the database need not keep for ever: answers kept for replays, spent phone tokens.

A phone replays a change with its ``Idempotency-Key`` only while the change waits in its
outbox; after ``keep`` (longer than any plausible time offline) the stored answer is
dropped. Device tokens past their expiry open nothing and prove nothing (a spent refresh
token is kept only until it expires, to catch its reuse).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session

from dispatch.field_models import DeviceToken, IdempotencyRecord

#: How long a replayed change still gets its first answer.
DEFAULT_ANSWERS_KEPT = timedelta(days=30)


def forget_old_records(session: Session, *, now: datetime, keep: timedelta) -> tuple[int, int]:
    """Delete answers older than ``keep`` and expired tokens; returns how many of each."""
    answers = cast(
        CursorResult[Any],
        session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - keep)
        ),
    )
    tokens = cast(
        CursorResult[Any],
        session.execute(delete(DeviceToken).where(DeviceToken.expires_at < now)),
    )
    return answers.rowcount, tokens.rowcount

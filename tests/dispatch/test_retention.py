"""Housekeeping forgets replay answers past their keeping time and expired phone tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import utcnow
from dispatch.devices import sign_in_device, token_hash
from dispatch.enums import Role
from dispatch.field_models import DeviceToken, IdempotencyRecord
from dispatch.retention import forget_old_records
from dispatch.users import create_user


def test_old_answers_and_expired_tokens_go_the_rest_stay(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions.begin() as session:
        user = create_user(
            session,
            username="tina",
            password="correct horse battery",
            roles=[Role.TECHNICIAN],
            full_name="Tina",
        )
        for key, age_days in (("old", 31), ("recent", 29)):
            session.add(
                IdempotencyRecord(
                    user_id=user.id,
                    key=key,
                    fingerprint="f",
                    status_code=201,
                    content_type="application/json",
                    body="{}",
                    created_at=now - timedelta(days=age_days),
                )
            )
        expired = sign_in_device(session, user, "old phone", refresh_lifetime=timedelta(0))
        current = sign_in_device(session, user, "new phone")
    with sessions.begin() as session:
        assert forget_old_records(session, now=utcnow(), keep=timedelta(days=30)) == (1, 1)
    with sessions() as session:
        assert list(session.scalars(select(IdempotencyRecord.key))) == ["recent"]
        kept = set(session.scalars(select(DeviceToken.token_hash)))
    assert token_hash(expired.refresh_token) not in kept
    assert {token_hash(current.access_token), token_hash(current.refresh_token)} <= kept
    assert token_hash(expired.access_token) in kept  # 15 minutes left

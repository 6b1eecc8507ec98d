"""The append-only event log: every change to an audited row, in the same transaction.

One listener on the session factory sees every flush, so no service function can
forget to log and a rolled-back change leaves no event behind.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Engine, insert, inspect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import NO_VALUE

from dispatch.db import utcnow
from dispatch.models import Event

SYSTEM_ACTOR = "system"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory whose sessions write the event log.

    ``expire_on_commit=False`` lets a view serialize objects after the commit
    without reloading them.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    install_audit_log(factory)
    return factory


def install_audit_log(factory: sessionmaker[Session]) -> None:
    from sqlalchemy import event

    event.listen(factory, "after_flush", _write_events)


def set_actor(session: Session, *, user_id: int | None, name: str) -> None:
    """Name who is making the session's changes (the signed-in user, a CLI run...)."""
    session.info["actor"] = (user_id, name)


def _write_events(session: Session, _flush_context: Any) -> None:
    user_id, actor = session.info.get("actor", (None, SYSTEM_ACTOR))
    now = utcnow()
    rows = []
    for action, objects in (
        ("created", session.new),
        ("updated", session.dirty),
        ("deleted", session.deleted),
    ):
        for obj in objects:
            if not getattr(obj, "__audited__", True):
                continue
            changes = _changes(obj, action)
            if action == "updated" and not changes:
                continue  # touched but not modified
            rows.append(
                {
                    "occurred_at": now,
                    "actor_user_id": user_id,
                    "actor": actor,
                    "entity_type": obj.__tablename__,
                    "entity_id": _entity_id(obj),
                    "action": action,
                    "changes": changes,
                }
            )
    if rows:
        # Core insert on the flush's own connection: part of the same transaction,
        # and not a new unit of work inside the one being flushed.
        session.connection().execute(insert(Event), rows)


def _entity_id(obj: Any) -> str:
    # Read the key from the columns: a row inserted by this flush has its primary
    # key set already, but no identity until the flush finishes.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join(str(_plain(part)) for part in key)


def _changes(obj: Any, action: str) -> dict[str, list[Any]]:
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if action == "created":
            value = getattr(obj, attr.key)
            if value is not None:
                changes[attr.key] = [None, _plain(value)]
        elif action == "deleted":
            old = history.unchanged or history.deleted
            if old and old[0] is not None:
                changes[attr.key] = [_plain(old[0]), None]
        elif history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old is NO_VALUE:
                old = None
            if _plain(old) != _plain(new):
                changes[attr.key] = [_plain(old), _plain(new)]
    return changes


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a column value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

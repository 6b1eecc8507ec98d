"""The append-only event log: every change to an audited row, in the same transaction.

One listener on the session factory sees every flush, so no service function can
forget to log and a rolled-back change leaves no event behind.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, inspect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import NO_VALUE

from dispatch.db import utcnow
from dispatch.feed import install_feed
from dispatch.models import Event

SYSTEM_ACTOR = "system"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory whose sessions write the event log.

    ``expire_on_commit=False`` lets a view serialize objects after the commit
    without reloading them.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    install_audit_log(factory)
    install_feed(factory)
    return factory


def install_audit_log(factory: sessionmaker[Session]) -> None:
    from sqlalchemy import event

    event.listen(factory, "after_flush", _write_events)
    event.listen(factory, "persistent_to_deleted", _write_deletion)


def set_actor(session: Session, *, user_id: int | None, name: str) -> None:
    """Name who is making the session's changes (the signed-in user, a CLI run...)."""
    session.info["actor"] = (user_id, name)


def _write_events(session: Session, _flush_context: Any) -> None:
    """Log the rows this flush inserted or updated (deletions: ``_write_deletion``)."""
    rows = []
    for action, objects in (("created", session.new), ("updated", session.dirty)):
        for obj in objects:
            if not getattr(obj, "__audited__", True):
                continue
            changes = _changes(obj, action)
            if action == "updated" and not changes:
                continue  # touched but not modified
            rows.append(_event_row(session, obj, action, changes))
    if rows:
        # Core insert on the flush's own connection: part of the same transaction,
        # and not a new unit of work inside the one being flushed.
        session.connection().execute(insert(Event), rows)


def _write_deletion(session: Session, obj: Any) -> None:
    """Log a deleted row.

    ``session.deleted`` misses rows removed as orphans of a collection during the
    flush; this hook sees every deletion, explicit or by cascade.
    """
    if getattr(obj, "__audited__", True):
        row = _event_row(session, obj, "deleted", _changes(obj, "deleted"))
        session.connection().execute(insert(Event), [row])


def _event_row(session: Session, obj: Any, action: str, changes: dict[str, Any]) -> dict[str, Any]:
    user_id, actor = session.info.get("actor", (None, SYSTEM_ACTOR))
    return {
        "occurred_at": utcnow(),
        "actor_user_id": user_id,
        "actor": actor,
        "entity_type": obj.__tablename__,
        "entity_id": _entity_id(obj),
        "action": action,
        "changes": changes,
    }


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
        if action in ("created", "deleted"):
            value = state.attrs[attr.key].loaded_value
            if value is not None and value is not NO_VALUE:
                changes[attr.key] = (
                    [None, _plain(value)] if action == "created" else [_plain(value), None]
                )
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
    if isinstance(value, (Decimal, uuid.UUID)):  # amounts exactly as stored; client ids
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

"""The event log records every change to audited rows, with actor and old -> new."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import set_actor
from dispatch.models import Event, GeocodeCache, JobPart
from tests.helpers import make_job


def _events(session: Session, entity_type: str) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.entity_type == entity_type).order_by(Event.id))
    )


def test_create_update_delete_are_logged_with_old_and_new(session: Session) -> None:
    """A row's creation, each changed field, and its deletion each leave an event."""
    set_actor(session, user_id=3, name="ann")
    job = make_job(session)
    job.parts.append(JobPart(sku="FLT-2020", quantity=2))
    session.flush()
    part = job.parts[0]
    part.quantity = 3
    session.flush()
    session.delete(part)
    session.commit()

    created, updated, deleted = _events(session, "job_parts")
    assert created.action == "created" and created.changes["quantity"] == [None, 2]
    assert created.entity_id == f"{job.id}/FLT-2020"
    assert updated.changes == {"quantity": [2, 3]}
    assert deleted.action == "deleted" and deleted.changes["quantity"] == [3, None]
    assert {(e.actor_user_id, e.actor) for e in (created, updated, deleted)} == {(3, "ann")}


def test_orphan_removed_from_a_collection_is_logged_as_deleted(session: Session) -> None:
    """Replacing a job's parts logs the deletion of the parts that went away."""
    job = make_job(session)
    job.parts = [JobPart(sku="A", quantity=1)]
    session.commit()
    job.parts = [JobPart(sku="B", quantity=1)]
    session.commit()

    actions = [(e.action, e.entity_id) for e in _events(session, "job_parts")]
    assert actions[0] == ("created", f"{job.id}/A")
    # The second flush's two events have no meaningful order between them.
    assert set(actions[1:]) == {("deleted", f"{job.id}/A"), ("created", f"{job.id}/B")}


def test_unchanged_assignment_writes_no_event(session: Session) -> None:
    """Setting a field to the value it already has is not a change."""
    job = make_job(session)
    session.commit()
    before = len(_events(session, "jobs"))
    job.title = job.title
    session.commit()
    assert len(_events(session, "jobs")) == before


def test_technical_tables_are_not_audited(session: Session) -> None:
    """Caches and counters are not business data and stay out of the log."""
    session.add(GeocodeCache(query="x", latitude=1.0, longitude=2.0, display_name="x"))
    session.commit()
    assert _events(session, "geocode_cache") == []

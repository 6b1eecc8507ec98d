"""The feed phones and dispatchers follow: ordered entries written with each change.

Every committed change to a job's assignment, times, status, priority or title, or to
what its card on the phone shows (notes, photos, parts used, parts held for it, status
reports, its request, and the site of a job not yet finished), adds entries to ``feed_events`` in the same transaction: ``job.changed`` (a
snapshot of the job) for the technician it now belongs to, or for dispatchers alone
(``technician_id`` None) when it belongs to nobody; and ``job.removed`` (a tombstone) for
the technician it was taken from. So a technician's newest entry id changes whenever
their route's answer may have. Other services add entries of their own with :func:`record`. Delta sync
reads the entries after a cursor; the live streams are woken by each commit.

An entry's id is the sync cursor and the SSE event id, so ids must follow commit order:
a reader that has seen id N must already see every entry committed before it, or it
would skip one committed late with a smaller id. So the rows are written at commit,
with the transaction holding a lock until it ends: on PostgreSQL a transaction-scoped
advisory lock, on SQLite the database's single writer lock. On PostgreSQL the commit
also notifies :data:`FEED_CHANNEL`, which PostgreSQL delivers only if it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, event, func, insert, inspect, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.attributes import NO_VALUE

from dispatch.enums import JobStatus
from dispatch.field_models import FeedEvent, JobAttachment, JobNote, PartUsage, StatusReport
from dispatch.models import Job, ServiceDay, ServiceRequest, Site, Technician
from inventory.models import Reservation

#: PostgreSQL channel notified with the newest entry id when entries commit.
FEED_CHANNEL = "fieldops_feed"
#: Key of the advisory lock that orders feed writers by commit ("feed" in ASCII).
FEED_LOCK_KEY = 0x66656564

JOB_CHANGED = "job.changed"
JOB_REMOVED = "job.removed"
#: Kinds that carry a job's state: sync keeps only the latest of them per job.
JOB_STATE_KINDS = frozenset({JOB_CHANGED, JOB_REMOVED})

#: Why a job left a technician's feed (a tombstone's ``reason``).
REASSIGNED = "reassigned"
UNASSIGNED = "unassigned"
CANCELLED = "cancelled"
DELETED = "deleted"

#: Job columns a technician's phone shows; a change to any of them is news.
WATCHED = (
    "technician_id",
    "status",
    "service_date",
    "planned_start",
    "planned_end",
    "priority",
    "title",
)
#: Rows shown on a job's card (each has ``job_id``): adding, changing or deleting one is
#: news of the job.
CARD_ROWS = (JobNote, JobAttachment, PartUsage, StatusReport, Reservation)

_STATE_KEY = "fieldops.feed"
_UTC = ZoneInfo("UTC")  # a day not set up: its times in UTC, as the route shows them


@dataclass(eq=False)
class _Pending:
    """What a session's transaction adds to the feed when it commits."""

    # Each job changed so far, with the technician it had when the transaction began.
    jobs: dict[Job, int | None] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    # Open savepoints: how many jobs and records were collected when each began.
    savepoints: dict[SessionTransaction, tuple[int, int]] = field(default_factory=dict)
    committing: bool = False
    written: int | None = None  # the newest id this transaction wrote


def install_feed(factory: sessionmaker[Session]) -> None:
    """Make the sessions of ``factory`` write the feed when they commit."""
    if not event.contains(Job.technician_id, "set", _keep_previous_technician):
        event.listen(Job.technician_id, "set", _keep_previous_technician, active_history=True)
    event.listen(factory, "after_flush", _collect)
    event.listen(factory, "before_commit", _write_at_commit)
    event.listen(factory, "after_transaction_create", _mark_savepoint)
    event.listen(factory, "after_soft_rollback", _undo_savepoint)
    event.listen(factory, "after_transaction_end", _forget)


def on_commit(
    factory: sessionmaker[Session], callback: Callable[[int], None]
) -> Callable[[], None]:
    """Call ``callback(newest id)`` after each commit of ``factory``'s sessions that wrote
    feed entries (in the committing thread); returns the function that stops it."""

    def committed(session: Session) -> None:
        pending = session.info.get(_STATE_KEY)
        if pending is not None and pending.written is not None:
            callback(pending.written)

    event.listen(factory, "after_commit", committed)
    return lambda: event.remove(factory, "after_commit", committed)


def record(
    session: Session,
    kind: str,
    *,
    technician_id: int | None,
    job_id: int | None = None,
    service_date: date | None = None,
    payload: dict[str, Any],
) -> None:
    """Add an entry to the feed when ``session`` commits (nothing if it rolls back).

    ``technician_id`` names whose feed it joins; None: dispatchers' only. ``payload``
    must be JSON and self-contained (name the job by its reference): readers get it as
    it is. The entries of one commit come in this order: the jobs' entries, then the
    recorded ones in the order they were recorded.
    """
    pending = _pending(session)
    pending.records.append(
        {
            "technician_id": technician_id,
            "kind": kind,
            "job_id": job_id,
            "service_date": service_date,
            "payload": payload,
        }
    )
    if pending.committing:  # recorded by another commit hook, after the feed was written
        _write(session, pending)


def entries_after(
    session: Session, cursor: int, *, technician_id: int | None, limit: int
) -> list[FeedEvent]:
    """The first ``limit`` entries after ``cursor``, oldest first: one technician's, or
    every entry (dispatchers) when ``technician_id`` is None."""
    query = select(FeedEvent).where(FeedEvent.id > cursor)
    if technician_id is not None:
        query = query.where(FeedEvent.technician_id == technician_id)
    return list(session.scalars(query.order_by(FeedEvent.id).limit(limit)))


def latest_id(session: Session) -> int:
    """The newest entry's id; 0 while the feed is empty."""
    return session.scalar(select(func.max(FeedEvent.id))) or 0


def as_change(entry: FeedEvent) -> dict[str, Any]:
    """An entry as clients read it, in sync's ``changes`` and as a stream's event data.

    A job's entries name it (``job``: its reference) and say whether it left this feed
    (``removed``); other entries carry their payload as recorded.
    """
    if entry.kind == JOB_CHANGED:
        return {
            "kind": entry.kind,
            "job": entry.payload["reference"],
            "removed": False,
            **entry.payload,
        }
    if entry.kind == JOB_REMOVED:
        return {
            "kind": entry.kind,
            "job": entry.payload["reference"],
            "removed": True,
            **entry.payload,
        }
    return {
        "kind": entry.kind,
        "service_date": entry.service_date.isoformat() if entry.service_date else None,
        "payload": entry.payload,
    }


def collapse(entries: Sequence[FeedEvent]) -> list[dict[str, Any]]:
    """``entries`` as changes (with their ids), each job's state entries collapsed to its
    latest one (in that one's place); other entries all kept, in order."""
    latest = {e.payload["reference"]: e.id for e in entries if e.kind in JOB_STATE_KINDS}
    return [
        {"id": e.id, **as_change(e)}
        for e in entries
        if e.kind not in JOB_STATE_KINDS or latest[e.payload["reference"]] == e.id
    ]


# --- collecting and writing ----------------------------------------------------------------


def _keep_previous_technician(*_: Any) -> None:
    """Registered with ``active_history``, so that setting a job's technician loads the
    one it replaces even when that was not loaded: the tombstone goes to them."""


def _pending(session: Session) -> _Pending:
    pending: _Pending | None = session.info.get(_STATE_KEY)
    if pending is None:
        pending = session.info[_STATE_KEY] = _Pending()
    return pending


def _collect(session: Session, _flush_context: Any) -> None:
    """Note the jobs this flush inserted, deleted or changed in a watched column or on
    their card."""
    inserted = [obj for obj in session.new if isinstance(obj, Job)]
    changed = [obj for obj in session.dirty if isinstance(obj, Job) and _watched_changed(obj)]
    deleted = [obj for obj in session.deleted if isinstance(obj, Job)]
    changed += _jobs_of_card_rows(session)
    pending: _Pending | None = session.info.get(_STATE_KEY)
    if not (inserted or changed or deleted) and pending is None:
        return
    pending = _pending(session)
    for job in inserted:
        pending.jobs.setdefault(job, None)
    for job in (*changed, *deleted):
        if job not in pending.jobs:
            pending.jobs[job] = _technician_before(job)
    if pending.committing:  # a flush after the feed was written at this commit
        _write(session, pending)


def _jobs_of_card_rows(session: Session) -> list[Job]:
    """The jobs whose card rows, request or (for jobs not finished) site this flush
    added, changed or deleted."""
    dirty = session.dirty  # computed on each access: once
    ids = {
        obj.job_id
        for obj in (*session.new, *dirty, *session.deleted)
        if isinstance(obj, CARD_ROWS)
    }
    requests = {obj.id for obj in dirty if isinstance(obj, ServiceRequest)}
    sites = {obj.id for obj in dirty if isinstance(obj, Site)}
    if not (ids or requests or sites):
        return []  # most flushes: no walk of the identity map
    with session.no_autoflush:  # within the flush: load what is missing without another
        if requests or sites:
            ids.update(
                session.scalars(
                    select(Job.id).where(
                        Job.request_id.in_(requests)
                        | (Job.site_id.in_(sites) & Job.status.not_in(_CLOSED))
                    )
                )
            )
        # A job this flush inserted is not in the identity map until the flush ends:
        # take the object itself, never a second copy loaded from the database.
        present = {
            obj.id: obj
            for obj in (*session.new, *session.identity_map.values())
            if isinstance(obj, Job)
        }
        jobs = [present.get(job_id) or session.get(Job, job_id) for job_id in ids]
    return [job for job in jobs if job is not None]


_CLOSED = (JobStatus.COMPLETED, JobStatus.CANNOT_COMPLETE, JobStatus.CANCELLED)


def _watched_changed(job: Job) -> bool:
    attributes = inspect(job).attrs
    return any(attributes[name].history.has_changes() for name in WATCHED)


def _technician_before(job: Job) -> int | None:
    attribute = inspect(job).attrs.technician_id
    if attribute.history.deleted:
        previous: int | None = attribute.history.deleted[0]
        return previous
    value = attribute.loaded_value
    return None if value is NO_VALUE else value


def _write_at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the feed is written when the transaction commits
    session.flush()  # the commit's own flush comes after this hook: collect its changes now
    pending = _pending(session)
    pending.committing = True
    _write(session, pending)


def _write(session: Session, pending: _Pending) -> None:
    """Insert what was collected, under the lock that orders feed ids by commit."""
    if not (pending.jobs or pending.records):
        return  # nothing to write: no lock, no connection
    connection = session.connection()
    rows = _job_rows(connection, pending.jobs) + pending.records
    pending.jobs, pending.records, pending.savepoints = {}, [], {}
    if not rows:
        return
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        # Held until the transaction ends: writers insert (and take ids) one commit at a time.
        connection.execute(select(func.pg_advisory_xact_lock(FEED_LOCK_KEY)))
    connection.execute(insert(FeedEvent), rows)
    newest = connection.scalar(select(func.max(FeedEvent.id)))
    assert newest is not None
    if postgresql:
        connection.execute(select(func.pg_notify(FEED_CHANNEL, str(newest))))
    pending.written = newest


def _job_rows(connection: Connection, jobs: dict[Job, int | None]) -> list[dict[str, Any]]:
    """Each job's entries: a tombstone for the technician it left, a snapshot for its own."""
    if not jobs:
        return []
    live = [job for job in jobs if inspect(job).persistent]
    codes = _codes(connection, {*jobs.values(), *(job.technician_id for job in live)})
    zones = _zones(connection, {job.service_date for job in live if job.service_date})
    rows = []
    for job, before in jobs.items():
        state = inspect(job)
        if state.deleted or state.was_deleted:
            rows.append(_tombstone(job, before, DELETED, codes))
        elif state.persistent:
            now = job.technician_id
            if before is not None and before != now:
                rows.append(_tombstone(job, before, _why_removed(job), codes))
            rows.append(_row(job, now, JOB_CHANGED, _snapshot(job, codes, zones)))
    return rows


def _why_removed(job: Job) -> str:
    if job.status == JobStatus.CANCELLED:
        return CANCELLED
    return UNASSIGNED if job.technician_id is None else REASSIGNED


def _snapshot(job: Job, codes: dict[int, str], zones: dict[date, ZoneInfo]) -> dict[str, Any]:
    zone = zones.get(job.service_date, _UTC) if job.service_date else _UTC
    return {
        "reference": job.reference,
        "status": job.status.value,
        "priority": job.priority.value,
        "title": job.title,
        "service_date": job.service_date.isoformat() if job.service_date else None,
        "planned_start": _local(job.planned_start, zone),
        "planned_end": _local(job.planned_end, zone),
        "technician": codes.get(job.technician_id) if job.technician_id else None,
    }


def _tombstone(
    job: Job, technician_id: int | None, reason: str, codes: dict[int, str]
) -> dict[str, Any]:
    payload = {
        "reference": job.reference,
        "reason": reason,
        "technician": codes.get(technician_id) if technician_id else None,
    }
    return _row(job, technician_id, JOB_REMOVED, payload)


def _row(
    job: Job, technician_id: int | None, kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "technician_id": technician_id,
        "kind": kind,
        "job_id": job.id,
        "service_date": job.service_date,
        "payload": payload,
    }


def _codes(connection: Connection, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = [i for i in set(ids) if i is not None]
    if not wanted:
        return {}
    query = select(Technician.id, Technician.code).where(Technician.id.in_(wanted))
    return {row.id: row.code for row in connection.execute(query)}


def _zones(connection: Connection, days: set[date]) -> dict[date, ZoneInfo]:
    """Each day's time zone, in which the phone shows that day's times (as the route does)."""
    if not days:
        return {}
    query = select(ServiceDay.day, ServiceDay.timezone).where(ServiceDay.day.in_(days))
    return {row.day: ZoneInfo(row.timezone) for row in connection.execute(query)}


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat() if moment is not None else None


# --- the transaction's end -----------------------------------------------------------------


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        pending = _pending(session)
        pending.savepoints[transaction] = (len(pending.jobs), len(pending.records))


def _undo_savepoint(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: forget what was collected since it began."""
    pending: _Pending | None = session.info.get(_STATE_KEY)
    if not previous.nested or pending is None or previous not in pending.savepoints:
        return
    jobs, records = pending.savepoints.pop(previous)
    pending.jobs = dict(islice(pending.jobs.items(), jobs))
    del pending.records[records:]


def _forget(session: Session, transaction: SessionTransaction) -> None:
    """The transaction ended (committed, rolled back or closed): start afresh.

    Marks of released savepoints stay until then: a savepoint's end comes before the
    news of its rollback (``after_soft_rollback``), which needs the mark.
    """
    if transaction.parent is None:
        session.info.pop(_STATE_KEY, None)

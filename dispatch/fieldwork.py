"""What a technician does from the phone: status reports, notes, parts used, attachments.

Every record sent from the field carries the id the phone gave it, so a record sent
twice is stored once. A status report is always kept; it moves the job through the
lifecycle (``dispatch.lifecycle``) along the field's forward steps, unless the job has
already moved past it: a report made earlier on the device than one already applied,
or one behind the job's state, is recorded as superseded and moves nothing. A job is
seen only by the technician it is assigned to: any other id is unknown (``JobNotFound``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import JobStatus
from dispatch.field_models import (
    AttachmentKind,
    JobAttachment,
    JobNote,
    PartUsage,
    ReportOutcome,
    StatusReport,
)
from dispatch.lifecycle import TRANSITIONS, transition
from dispatch.models import Job, Technician
from dispatch.stock import actor_of
from dispatch.technician_day import job_query
from inventory.field import consume

S = JobStatus
Record = TypeVar("Record", StatusReport, JobNote, PartUsage, JobAttachment)

#: The states a technician reports, and how far along the visit each one is.
FIELD_PROGRESS: dict[JobStatus, int] = {
    S.SCHEDULED: 0,
    S.DISPATCHED: 1,
    S.EN_ROUTE: 2,
    S.ON_SITE: 3,
    S.PAUSED: 3,
    S.COMPLETED: 4,
    S.CANNOT_COMPLETE: 4,
}
REPORTABLE: frozenset[JobStatus] = frozenset(
    {S.EN_ROUTE, S.ON_SITE, S.PAUSED, S.COMPLETED, S.CANNOT_COMPLETE}
)
#: States in which parts may be used on a job: the technician is on the way or has been there.
WORKING: frozenset[JobStatus] = frozenset(
    {S.EN_ROUTE, S.ON_SITE, S.PAUSED, S.COMPLETED, S.CANNOT_COMPLETE}
)


class JobNotFound(LookupError):
    """No job with this reference is assigned to this technician."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(f"you have no job {reference}")


class FieldRefused(Exception):
    """A change from the field that cannot be applied as sent (the API's 409)."""


class IdTaken(FieldRefused):
    """A client id already names a different record (another job, kind or content)."""

    def __init__(self, record_id: uuid.UUID) -> None:
        super().__init__(f"id {record_id} already names another record; make a new id")


@dataclass(frozen=True, slots=True)
class Position:
    latitude: float
    longitude: float


def my_job(session: Session, technician: Technician, reference: str) -> Job:
    """The technician's job ``reference``, or ``JobNotFound`` (also for other people's jobs)."""
    job = session.scalar(
        job_query().where(Job.reference == reference, Job.technician_id == technician.id)
    )
    if job is None:
        raise JobNotFound(reference)
    return job


def report_status(
    session: Session,
    technician: Technician,
    job: Job,
    *,
    report_id: uuid.UUID,
    status: JobStatus,
    device_time: datetime,
    position: Position | None = None,
    reason: str | None = None,
) -> StatusReport:
    """Record a status report and move the job to it if it is news.

    Sent again with the same id, the report stored the first time is returned.

    Raises
    ------
    FieldRefused
        ``status`` is not one a technician reports, or the job cannot reach it from
        where it is (not yet scheduled, say); nothing is recorded.
    IdTaken
        The id names another record.
    TransitionRefused
        A condition of the lifecycle is unmet (``cannot_complete`` without a reason).
    """
    existing = _sent_before(session, StatusReport, report_id, job_id=job.id, status=status)
    if existing is not None:
        return existing
    if status not in REPORTABLE:
        raise FieldRefused(f"a technician reports {', '.join(sorted(REPORTABLE))}, not {status}")
    outcome = ReportOutcome.APPLIED
    if _superseded(session, job, status, device_time):
        outcome = ReportOutcome.SUPERSEDED
    else:
        steps = forward_path(job.status, status)
        if steps is None:
            raise FieldRefused(f"job {job.reference} is {job.status}: it cannot be {status} yet")
        for step in steps:
            transition(session, job, step, note=reason)
    report = StatusReport(
        id=report_id,
        job_id=job.id,
        technician_id=technician.id,
        status=status,
        device_time=device_time,
        latitude=position.latitude if position else None,
        longitude=position.longitude if position else None,
        reason=reason,
        outcome=outcome,
    )
    session.add(report)
    session.flush()
    return report


def _superseded(session: Session, job: Job, status: JobStatus, device_time: datetime) -> bool:
    """Whether applying the report would move the job backwards or undo a newer report."""
    if job.status not in FIELD_PROGRESS:  # finished elsewhere, cancelled, on hold
        return True
    if FIELD_PROGRESS[status] < FIELD_PROGRESS[job.status] or status == job.status:
        return True
    newest = session.scalar(
        select(StatusReport.device_time)
        .where(StatusReport.job_id == job.id, StatusReport.outcome == ReportOutcome.APPLIED)
        .order_by(StatusReport.device_time.desc())
        .limit(1)
    )
    return newest is not None and device_time < newest


def _sent_before(
    session: Session, model: type[Record], record_id: uuid.UUID, **content: Any
) -> Record | None:
    """The record the phone sent before under this id, if any.

    Raises
    ------
    IdTaken
        The id names a record with other content (another job, say).
    """
    existing = session.get(model, record_id)
    if existing is not None and any(getattr(existing, k) != v for k, v in content.items()):
        raise IdTaken(record_id)
    return existing


def forward_path(current: JobStatus, target: JobStatus) -> list[JobStatus] | None:
    """The lifecycle's shortest chain of forward field steps from ``current`` to ``target``
    (a technician who reports "on site" from "dispatched" has been en route), or None."""
    frontier: list[list[JobStatus]] = [[current]]
    seen = {current}
    while frontier:
        path = frontier.pop(0)
        if path[-1] == target:
            return path[1:]
        for step in sorted(TRANSITIONS[path[-1]]):
            forward = step in FIELD_PROGRESS and FIELD_PROGRESS[step] >= FIELD_PROGRESS[path[-1]]
            if forward and step not in seen:
                seen.add(step)
                frontier.append([*path, step])
    return None


def add_note(
    session: Session,
    job: Job,
    *,
    note_id: uuid.UUID,
    author_user_id: int,
    body: str,
    device_time: datetime,
) -> JobNote:
    """Keep a note on the job; the same note sent again is stored once.

    Raises
    ------
    IdTaken
        The id names another note.
    """
    existing = _sent_before(session, JobNote, note_id, job_id=job.id, body=body)
    if existing is not None:
        return existing
    note = JobNote(
        id=note_id,
        job_id=job.id,
        author_user_id=author_user_id,
        body=body,
        device_time=device_time,
    )
    session.add(note)
    session.flush()
    return note


def record_parts_used(
    session: Session,
    technician: Technician,
    job: Job,
    lines: Sequence[tuple[uuid.UUID, str, int]],
    *,
    device_time: datetime,
) -> list[PartUsage]:
    """Record parts used from the van; lines already recorded (by id) are not used twice.

    Raises
    ------
    FieldRefused
        The job is not under way or done.
    IdTaken
        A line's id names another line.
    inventory.ledger.InvalidMovement
        An unknown SKU, or the technician has no van.
    """
    if job.status not in WORKING:
        raise FieldRefused(f"job {job.reference} is {job.status}: set off for it first")
    recorded: list[PartUsage] = []
    fresh: list[PartUsage] = []
    for line_id, sku, quantity in lines:
        existing = _sent_before(
            session, PartUsage, line_id, job_id=job.id, sku=sku, quantity=quantity
        )
        if existing is not None:
            recorded.append(existing)
            continue
        usage = PartUsage(
            id=line_id,
            job_id=job.id,
            technician_id=technician.id,
            sku=sku,
            quantity=quantity,
            device_time=device_time,
        )
        fresh.append(usage)
        recorded.append(usage)
    if fresh:
        consume(
            session,
            technician.id,
            job.id,
            [(usage.sku, usage.quantity) for usage in fresh],
            actor=actor_of(session),
        )
        session.add_all(fresh)
        session.flush()
    return recorded


def add_attachment(
    session: Session,
    job: Job,
    *,
    attachment_id: uuid.UUID,
    kind: AttachmentKind,
    content_type: str,
    size_bytes: int,
    sha256: str,
    uploaded_by_id: int,
    device_time: datetime,
) -> tuple[JobAttachment, bool]:
    """Keep an attachment's record; returns it and whether it is new (the file must be saved).

    Raises
    ------
    IdTaken
        The id names another attachment (another job or other content).
    """
    existing = _sent_before(
        session, JobAttachment, attachment_id, job_id=job.id, sha256=sha256, kind=kind
    )
    if existing is not None:
        return existing, False
    attachment = JobAttachment(
        id=attachment_id,
        job_id=job.id,
        kind=kind,
        content_type=content_type,
        size_bytes=size_bytes,
        sha256=sha256,
        uploaded_by_id=uploaded_by_id,
        device_time=device_time,
    )
    session.add(attachment)
    session.flush()
    return attachment, True

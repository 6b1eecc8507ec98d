"""The job lifecycle: one transition table, enforced here and nowhere else.

new -> triaged -> (awaiting_approval -> triaged) -> scheduled -> dispatched ->
en_route -> on_site <-> paused -> completed | cannot_complete; cancelled and
on_hold from every open state. Three moves go back before work starts:
scheduled -> triaged (unscheduled), dispatched -> scheduled (recalled before the
technician set off) and en_route -> dispatched (turned back on the way). Approval
is the step awaiting_approval -> triaged: it stamps ``approved_at``, and a job
whose catalog item needs approval cannot be scheduled without it. README.md's
"Job lifecycle" table documents the same moves; a test keeps the two equal.
A job moving to a state that holds no parts (``dispatch.stock.HOLDING_STATUSES``)
gives up its stock reservations in the same transaction.

Functions change the job and flush; the caller's transaction commits, and the
audit listener writes each change to the event log in that same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dispatch.db import utcnow
from dispatch.enums import HoldReason, JobStatus
from dispatch.models import Job, JobPart, Technician
from dispatch.stock import HOLDING_STATUSES, release_parts

S = JobStatus

TERMINAL: frozenset[JobStatus] = frozenset({S.COMPLETED, S.CANNOT_COMPLETE, S.CANCELLED})

_FORWARD: dict[JobStatus, frozenset[JobStatus]] = {
    S.NEW: frozenset({S.TRIAGED}),
    S.TRIAGED: frozenset({S.AWAITING_APPROVAL, S.SCHEDULED}),
    S.AWAITING_APPROVAL: frozenset({S.TRIAGED}),
    S.SCHEDULED: frozenset({S.DISPATCHED, S.TRIAGED}),  # back to triaged = unscheduled
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.SCHEDULED}),  # back to scheduled = recalled
    S.EN_ROUTE: frozenset({S.ON_SITE, S.DISPATCHED}),  # back to dispatched = turned back
    S.ON_SITE: frozenset({S.PAUSED, S.COMPLETED, S.CANNOT_COMPLETE}),
    S.PAUSED: frozenset({S.ON_SITE}),
    S.ON_HOLD: frozenset({S.TRIAGED}),  # released: planned afresh
}

#: Every allowed move: the forward moves above, plus cancel and hold from any open state.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    status: (
        frozenset()
        if status in TERMINAL
        else _FORWARD[status] | {S.CANCELLED} | ({S.ON_HOLD} if status != S.ON_HOLD else set())
    )
    for status in JobStatus
}


class TransitionRefused(Exception):
    """A status change the lifecycle does not allow, or whose conditions are unmet."""

    def __init__(self, job: Job, target: JobStatus, detail: str | None = None) -> None:
        self.job_reference = job.reference
        self.current = job.status
        self.target = target
        self.allowed = sorted(TRANSITIONS[job.status])
        allowed = ", ".join(self.allowed) or "none (final state)"
        message = detail or f"job {job.reference} cannot go from {job.status} to {target}"
        super().__init__(f"{message}; it is {job.status}, allowed next: {allowed}")


def transition(
    session: Session,
    job: Job,
    target: JobStatus,
    *,
    hold_reason: HoldReason | None = None,
    note: str | None = None,
    technician_id: int | None = None,
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
) -> Job | None:
    """Move ``job`` to ``target``, checking the table and the target's conditions.

    Parameters
    ----------
    hold_reason
        Required for ``on_hold``: what the job waits for.
    note
        Required for ``cannot_complete`` (why) and ``cancelled``; kept on the job.
    technician_id, planned_start, planned_end
        Required for ``scheduled``: the assignment the planner or dispatcher made.

    Returns
    -------
    The follow-up job created by ``cannot_complete``, otherwise None.

    Raises
    ------
    TransitionRefused
        The move is not in the table, or a condition is missing; nothing changes.
    """
    if target not in TRANSITIONS[job.status]:
        raise TransitionRefused(job, target)
    _check_conditions(
        session, job, target, hold_reason, note, technician_id, planned_start, planned_end
    )

    previous = job.status
    job.status = target
    follow_up = None
    if target == S.ON_HOLD:
        job.hold_reason = hold_reason
    elif previous == S.ON_HOLD:
        job.hold_reason = None
    if target == S.TRIAGED and previous == S.AWAITING_APPROVAL:
        job.approved_at = utcnow()
    if target == S.SCHEDULED:
        job.technician_id = technician_id
        job.planned_start, job.planned_end = planned_start, planned_end
    elif target in (S.TRIAGED, S.ON_HOLD, S.CANCELLED):
        job.technician_id = job.planned_start = job.planned_end = None
    if target in (S.CANCELLED, S.CANNOT_COMPLETE, S.COMPLETED) and note:
        job.outcome_note = note
    if target == S.CANNOT_COMPLETE:
        follow_up = _follow_up(session, job)
    session.flush()
    if target not in HOLDING_STATUSES:
        release_parts(session, job, reason=f"job {job.reference} {target.value}")
    return follow_up


def _check_conditions(
    session: Session,
    job: Job,
    target: JobStatus,
    hold_reason: HoldReason | None,
    note: str | None,
    technician_id: int | None,
    planned_start: datetime | None,
    planned_end: datetime | None,
) -> None:
    if target == S.ON_HOLD and hold_reason is None:
        raise TransitionRefused(job, target, f"job {job.reference}: say what it is on hold for")
    if target in (S.CANNOT_COMPLETE, S.CANCELLED) and not (note and note.strip()):
        raise TransitionRefused(job, target, f"job {job.reference}: {target} needs a reason")
    if target == S.SCHEDULED:
        if technician_id is None or planned_start is None or planned_end is None:
            raise TransitionRefused(
                job, target, f"job {job.reference}: scheduling needs a technician and times"
            )
        if planned_start.tzinfo is None or planned_end.tzinfo is None:
            raise TransitionRefused(
                job, target, f"job {job.reference}: planned times need a time zone offset"
            )
        if planned_end <= planned_start:
            raise TransitionRefused(
                job, target, f"job {job.reference}: the planned end must come after the start"
            )
        technician = session.get(Technician, technician_id)
        if technician is None or not technician.active:
            raise TransitionRefused(
                job, target, f"job {job.reference}: no active technician with id {technician_id}"
            )
        catalog_item = job.request.catalog_item
        if catalog_item is not None and catalog_item.requires_approval and job.approved_at is None:
            raise TransitionRefused(
                job, target, f"job {job.reference} needs approval before it is scheduled"
            )
    if target == S.AWAITING_APPROVAL:
        catalog_item = job.request.catalog_item
        if catalog_item is None or not catalog_item.requires_approval:
            raise TransitionRefused(job, target, f"job {job.reference} needs no approval")


def _follow_up(session: Session, job: Job) -> Job:
    """A new job for the same request and site, ready to be planned again."""
    follow_up = Job(
        reference=_follow_up_reference(job),
        request=job.request,
        site_id=job.site_id,
        title=job.title,
        status=S.TRIAGED,
        priority=job.priority,
        duration_min=job.duration_min,
        required_skills=list(job.required_skills),
        window_start=None,
        window_end=None,
        sla_due=job.sla_due,
        approved_at=job.approved_at,
        follow_up_of=job,
        parts=[JobPart(sku=p.sku, quantity=p.quantity, position=p.position) for p in job.parts],
    )
    session.add(follow_up)
    return follow_up


def _follow_up_reference(job: Job) -> str:
    """``J-0007`` -> ``J-0007-F1``; a follow-up of that -> ``J-0007-F2``."""
    base, _, number = job.reference.rpartition("-F")
    if base and number.isdigit():
        return f"{base}-F{int(number) + 1}"
    return f"{job.reference}-F1"

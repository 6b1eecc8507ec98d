"""Classification of a request: priority from impact and urgency, SLA dues, parts.

Intake applies it when a request arrives, and triages the job right away when
``triage_gaps`` finds nothing the planner would lack; dispatchers triage the
others by hand with ``triage`` (through ``dispatch.intake.queue``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dispatch.enums import JobStatus, Level, Priority
from dispatch.intake.schemas import CATALOG_CODE, FieldError, IntakeError
from dispatch.lifecycle import TransitionRefused, transition
from dispatch.models import CatalogItem, Job, JobPart

_PRIORITIES: dict[tuple[Level, Level], Priority] = {
    (Level.HIGH, Level.HIGH): Priority.EMERGENCY,
    (Level.HIGH, Level.MEDIUM): Priority.HIGH,
    (Level.MEDIUM, Level.HIGH): Priority.HIGH,
    (Level.HIGH, Level.LOW): Priority.NORMAL,
    (Level.MEDIUM, Level.MEDIUM): Priority.NORMAL,
    (Level.LOW, Level.HIGH): Priority.NORMAL,
    (Level.MEDIUM, Level.LOW): Priority.LOW,
    (Level.LOW, Level.MEDIUM): Priority.LOW,
    (Level.LOW, Level.LOW): Priority.LOW,
}

#: What to do when there is no catalog at all, the usual first-run mistake.
EMPTY_CATALOG_HINT = (
    "the service catalog is empty: import one with `fieldops import-catalog FILE`"
    " (the demo's is dispatch/data/catalog.json)"
)


def priority_for(impact: Level, urgency: Level) -> Priority:
    """Priority of a request from its impact and urgency (ITIL matrix).

    Parameters
    ----------
    impact : Level
        How much the problem affects the customer.
    urgency : Level
        How soon it must be dealt with.

    Returns
    -------
    Priority
        Emergency when both are high; high when one is high and the other
        medium; normal for high with low, medium with medium; low otherwise.
    """
    return _PRIORITIES[(impact, urgency)]


def triage_gaps(job: Job) -> list[str]:
    """What keeps a new job from being triaged automatically; empty when nothing does.

    A catalog item gives the planner category, skills (none means any technician),
    duration and parts; the request gives priority through impact and urgency.
    Missing are: a catalog item, impact or urgency (jobs not raised through intake),
    an SLA target of the item at the request's priority, or the item's own
    ``manual_triage`` flag (work that needs a look before it can be planned).
    """
    request = job.request
    item = request.catalog_item
    gaps = []
    if item is None:
        gaps.append("no catalog item: choose the kind of service")
    elif item.manual_triage:
        gaps.append(f"catalog item {item.code} is triaged by hand")
    if request.impact is None or request.urgency is None:
        gaps.append("impact and urgency not given")
    elif item is not None:
        priority = priority_for(request.impact, request.urgency)
        if item.sla_for(priority) is None:
            gaps.append(f"catalog item {item.code} has no SLA target at {priority} priority")
    return gaps


def triage(
    session: Session,
    job: Job,
    *,
    catalog_code: str | None = None,
    impact: Level | None = None,
    urgency: Level | None = None,
) -> Job:
    """Confirm or correct a new job's classification and move it to triaged.

    Arguments left out keep the request's current value. Priority and SLA
    dues are recomputed from the request's receipt time; a new catalog item
    also replaces the job's duration, skills and parts.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work.
    job : Job
        A job in status ``new``.
    catalog_code : str, optional
        Code of the catalog item the work really is.
    impact, urgency : Level, optional
        The dispatcher's assessment.

    Returns
    -------
    Job
        The job, now ``triaged``, or ``awaiting_approval`` when its catalog
        item requires approval.

    Raises
    ------
    TransitionRefused
        If the job is not new.
    IntakeError
        If the catalog code is unknown or inactive, or the request would be
        left without catalog item, impact or urgency. Nothing changes.
    """
    if job.status != JobStatus.NEW:
        raise TransitionRefused(
            job, JobStatus.TRIAGED, f"job {job.reference} cannot be triaged: only new jobs are"
        )
    request = job.request
    item = request.catalog_item
    errors: list[FieldError] = []
    if catalog_code is not None and (item is None or item.code != catalog_code):
        item, problem = catalog_item(session, catalog_code)
        if problem is not None:
            errors.append(problem)
    elif item is None:
        errors.append(FieldError("catalog_code", "choose the kind of service"))
    impact = impact or request.impact
    urgency = urgency or request.urgency
    if impact is None:
        errors.append(FieldError("impact", "give the impact"))
    if urgency is None:
        errors.append(FieldError("urgency", "give the urgency"))
    if errors:
        raise IntakeError(errors)
    # Each of these being missing left an error above.
    assert item is not None and impact is not None and urgency is not None

    if item is not request.catalog_item:
        # Titles that were only the old item's name follow the new item; a title
        # the requester wrote is kept.
        default_title = request.catalog_item.name if request.catalog_item is not None else None
        if request.title == default_title:
            request.title = item.name
        if job.title == default_title:
            job.title = item.name
        request.catalog_item = item
        job.duration_min = item.default_duration_min
        job.required_skills = list(item.required_skills)
        job.parts = parts_for(item)
    priority = priority_for(impact, urgency)
    request.impact, request.urgency = impact, urgency
    request.priority = job.priority = priority
    request.sla_response_due, request.sla_resolution_due = sla_dues(
        item, priority, request.created_at
    )
    job.sla_due = request.sla_resolution_due
    transition(session, job, JobStatus.TRIAGED)
    if item.requires_approval:
        transition(session, job, JobStatus.AWAITING_APPROVAL)
    return job


def catalog_item(session: Session, code: str) -> tuple[CatalogItem | None, FieldError | None]:
    """The active catalog item with ``code``, or the field error saying why there is none.

    The code is validated first: a NUL byte would otherwise reach PostgreSQL in the query.
    """
    try:
        code = CATALOG_CODE.validate_python(code)
    except ValidationError as exc:
        return None, FieldError("catalog_code", exc.errors()[0]["msg"])
    item = session.scalars(select(CatalogItem).where(CatalogItem.code == code)).one_or_none()
    if item is None:
        message = f"unknown catalog code {code!r}"
        if not session.scalar(select(exists().where(CatalogItem.id.is_not(None)))):
            message = f"{message}; {EMPTY_CATALOG_HINT}"
        return None, FieldError("catalog_code", message)
    if not item.active:
        return None, FieldError("catalog_code", f"catalog item {code!r} is no longer offered")
    return item, None


def sla_dues(
    item: CatalogItem, priority: Priority, received_at: datetime
) -> tuple[datetime | None, datetime | None]:
    """Response and resolution due instants; None when the item has no target at ``priority``."""
    target = item.sla_for(priority)
    if target is None:
        return None, None
    return (
        received_at + timedelta(minutes=target.response_minutes),
        received_at + timedelta(minutes=target.resolution_minutes),
    )


def parts_for(item: CatalogItem) -> list[JobPart]:
    """The catalog item's typical parts as job parts, in the order the catalog lists them."""
    return [
        JobPart(sku=sku, quantity=quantity, position=position)
        for position, (sku, quantity) in enumerate(item.typical_parts.items())
    ]

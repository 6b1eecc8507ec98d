"""Recording a service request: check everything, then write request, site and job.

The web form, the JSON API, the CSV import and the e-mail reader all hand a
submission to ``submit_request``. It checks everything before writing
anything, and reports every problem at once as an ``IntakeError`` of field
errors, so a person fixing a form (or a CSV row) sees the whole list in one go.

A request whose catalog item gives the planner everything (``triage_gaps`` finds
nothing missing) is triaged on arrival and its job given a service date; the
others wait, ``new``, in the triage queue (``dispatch.intake.queue``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import JobStatus, Role
from dispatch.geocoding import Geocoder, GeocodingError
from dispatch.intake.schemas import (
    CATALOG_CODE,
    FieldError,
    IntakeError,
    IntakeInput,
    SiteInput,
)
from dispatch.intake.triage import (
    catalog_item,
    parts_for,
    priority_for,
    sla_dues,
    triage,
    triage_gaps,
)
from dispatch.models import CatalogItem, Customer, Job, ServiceRequest, Site, User
from dispatch.references import next_intake_reference
from dispatch.service_dates import Needs, assign_service_date, calendar, requested_day_refusal

T = TypeVar("T")


@dataclass(frozen=True)
class _Accepted:
    """A submission that passed every check, with what the checks looked up."""

    data: IntakeInput
    catalog_item: CatalogItem
    latitude: float
    longitude: float


def submit_request(
    session: Session,
    data: Mapping[str, Any] | IntakeInput,
    *,
    geocoder: Geocoder,
    now: datetime,
) -> ServiceRequest:
    """Check a submission and record it as a service request with its first job.

    Nothing but the geocoder's cache entry is added to the session until
    every check has passed. The new rows are flushed, not committed: the
    caller's transaction decides.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work.
    data : Mapping or IntakeInput
        The submission; a mapping is validated as an ``IntakeInput``.
    geocoder : Geocoder
        Resolves the site address when no coordinates are given; pass a
        ``CachedGeocoder`` so an address is looked up once.
    now : datetime
        Aware instant the request was received; SLA dues count from it and
        its year numbers the reference.

    Returns
    -------
    ServiceRequest
        The flushed request; ``request.jobs`` holds its one new job: ``triaged``
        with a service date (or the reason there is none), ``awaiting_approval``,
        or ``new`` in the triage queue when its catalog item cannot triage it.

    Raises
    ------
    IntakeError
        With every problem found: invalid fields, an unknown or inactive
        catalog code, an address not found or that could not be checked, a
        service date that cannot take the job.
    """
    accepted = _check(session, data, geocoder, now)
    item, submission = accepted.catalog_item, accepted.data
    priority = priority_for(submission.impact, submission.urgency)
    response_due, resolution_due = sla_dues(item, priority, now)
    title = submission.title or item.name
    customer = _customer(session, submission.customer_name, now)
    reference = next_intake_reference(session, year=now.year)

    site = Site(
        customer=customer,
        name=submission.site.address or f"{accepted.latitude:.5f}, {accepted.longitude:.5f}",
        address=submission.site.address or "",
        latitude=accepted.latitude,
        longitude=accepted.longitude,
        access_notes=submission.site.access_notes,
        contact_name=submission.site.contact_name,
        contact_phone=submission.site.contact_phone,
    )
    request = ServiceRequest(
        reference=reference,
        channel=submission.channel,
        requester_user_id=submission.requester_user_id,
        requester_name=submission.requester.name,
        requester_email=submission.requester.email,
        requester_phone=submission.requester.phone,
        customer_id=customer.id if customer is not None else None,
        site=site,
        catalog_item=item,
        title=title,
        description=submission.description,
        impact=submission.impact,
        urgency=submission.urgency,
        priority=priority,
        sla_response_due=response_due,
        sla_resolution_due=resolution_due,
        created_at=now,
    )
    job = Job(
        reference=f"{reference}-1",
        request=request,
        site=site,
        title=title,
        status=JobStatus.NEW,
        priority=priority,
        duration_min=item.default_duration_min,
        required_skills=list(item.required_skills),
        parts=parts_for(item),
        service_date=submission.service_date,
        window_start=submission.window_start,
        window_end=submission.window_end,
        sla_due=resolution_due,
        created_at=now,
    )
    session.add_all([site, request, job])
    session.flush()
    if not triage_gaps(job):
        triage(session, job)
        if job.status == JobStatus.TRIAGED:
            assign_service_date(session, job, now=now, requested=submission.service_date)
            session.flush()
    return request


def visible_request(session: Session, reference: str, *, viewer: User) -> ServiceRequest | None:
    """The request called ``reference`` if ``viewer`` may see it, else None.

    Requesters see their own requests; dispatchers and admins see all. "Not
    yours" and "no such request" look the same, so references cannot be probed.
    """
    if "\x00" in reference:  # no reference has one, and PostgreSQL refuses it in a query
        return None
    found = session.scalar(select(ServiceRequest).where(ServiceRequest.reference == reference))
    if found is None:
        return None
    if viewer.has_role(Role.DISPATCHER) or viewer.has_role(Role.ADMIN):
        return found
    return found if found.requester_user_id == viewer.id else None


def _check(
    session: Session, data: Mapping[str, Any] | IntakeInput, geocoder: Geocoder, now: datetime
) -> _Accepted:
    """Validate the submission, look up its catalog item, locate its site, check its date."""
    errors: list[FieldError] = []
    submission: IntakeInput | None
    code: str | None
    site: SiteInput | None
    if isinstance(data, IntakeInput):
        submission, code, site = data, data.catalog_code, data.site
    else:
        try:
            submission = IntakeInput.model_validate(data)
            code, site = submission.catalog_code, submission.site
        except ValidationError as exc:
            errors.extend(
                FieldError(".".join(str(part) for part in error["loc"]), error["msg"])
                for error in exc.errors()
            )
            # The database checks still run on the parts that are valid by
            # themselves, so the requester sees every problem at once.
            submission = None
            code = _valid_part(CATALOG_CODE.validate_python, data.get("catalog_code"))
            site = _valid_part(SiteInput.model_validate, data.get("site"))

    item = None
    if code is not None:
        item, problem = catalog_item(session, code)
        if problem is not None:
            errors.append(problem)
    location = None
    if site is not None:
        location, problem = _locate(site, geocoder)
        if problem is not None:
            errors.append(problem)
    if submission is not None and submission.service_date is not None and item is not None:
        problem = _date_problem(session, submission, item, now)
        if problem is not None:
            errors.append(problem)

    if errors:
        raise IntakeError(errors)
    # Each of these being missing left an error above.
    assert submission is not None and item is not None and location is not None
    return _Accepted(submission, item, *location)


def _date_problem(
    session: Session, submission: IntakeInput, item: CatalogItem, now: datetime
) -> FieldError | None:
    """Why the requested service date cannot take the job the submission would make, if so."""
    assert submission.service_date is not None
    _, resolution_due = sla_dues(item, priority_for(submission.impact, submission.urgency), now)
    needs = Needs(
        skills=frozenset(item.required_skills),
        duration_min=item.default_duration_min,
        window_start=submission.window_start,
        window_end=submission.window_end,
        sla_due=resolution_due,
    )
    refusal = requested_day_refusal(calendar(session, now=now), needs, submission.service_date)
    return None if refusal is None else FieldError("service_date", refusal)


def _valid_part(validate: Callable[[Any], T], value: Any) -> T | None:
    """``value`` validated on its own, or None when it is itself invalid."""
    try:
        return validate(value)
    except ValidationError:
        return None


def _locate(
    site: SiteInput, geocoder: Geocoder
) -> tuple[tuple[float, float] | None, FieldError | None]:
    """Coordinates of the site: as given, else geocoded from its address."""
    if site.latitude is not None and site.longitude is not None:
        return (site.latitude, site.longitude), None
    assert site.address is not None  # SiteInput requires one or the other
    try:
        found = geocoder.geocode(site.address)
    except GeocodingError:
        return None, FieldError(
            "site.address",
            "the address could not be checked: the geocoding service did not answer;"
            " try again later, or give latitude and longitude",
        )
    if found is None:
        return None, FieldError(
            "site.address", "address not found; check it, or give latitude and longitude"
        )
    return (found.latitude, found.longitude), None


def _customer(session: Session, name: str | None, now: datetime) -> Customer | None:
    """The customer called ``name``, created (and flushed, for its id) if there is none yet."""
    if name is None:
        return None
    customer = session.scalars(
        select(Customer).where(Customer.name == name).order_by(Customer.id).limit(1)
    ).first()
    if customer is None:
        customer = Customer(name=name, created_at=now)
        session.add(customer)
        session.flush()
    return customer

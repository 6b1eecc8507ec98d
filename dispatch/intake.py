"""Intake: how a service request enters the system, whatever the channel.

The web form, the JSON API, the CSV import and the e-mail reader all hand a
submission to ``submit_request``. It checks everything before writing
anything, and reports every problem at once as an ``IntakeError`` of field
errors, so a person fixing a form (or a CSV row) sees the whole list in one go.
Dispatchers then confirm or correct the classification with ``triage``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import Channel, JobStatus, Level, Priority
from dispatch.geocoding import Geocoder, GeocodingError
from dispatch.lifecycle import TransitionRefused, transition
from dispatch.models import CatalogItem, Customer, Job, JobPart, ServiceRequest, Site
from dispatch.references import next_reference

T = TypeVar("T")

REQUEST_PREFIX = "SR"

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


def _blank_to_none(value: Any) -> Any:
    """Forms and CSV cells send "" for a field left empty; that means "not given"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


_Blank = BeforeValidator(_blank_to_none)
CatalogCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
_CATALOG_CODE = TypeAdapter(CatalogCode)
_SHAPE = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RequesterInput(BaseModel):
    """Who asked for the work."""

    model_config = _SHAPE

    name: str = Field(min_length=1, max_length=200)
    email: Annotated[EmailStr | None, _Blank] = None
    phone: Annotated[str | None, _Blank] = Field(default=None, max_length=40)


class SiteInput(BaseModel):
    """Where the work is: an address to geocode, or coordinates (which win if both are given)."""

    model_config = _SHAPE

    address: Annotated[str | None, _Blank] = Field(default=None, max_length=200)
    latitude: Annotated[float | None, _Blank] = Field(default=None, ge=-90, le=90)
    longitude: Annotated[float | None, _Blank] = Field(default=None, ge=-180, le=180)
    access_notes: str = ""
    contact_name: Annotated[str | None, _Blank] = Field(default=None, max_length=200)
    contact_phone: Annotated[str | None, _Blank] = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _locatable(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise PydanticCustomError(
                "coordinates_incomplete", "give both latitude and longitude, or neither"
            )
        if self.address is None and self.latitude is None:
            raise PydanticCustomError(
                "site_not_locatable", "give an address, or latitude and longitude"
            )
        return self


class IntakeInput(BaseModel):
    """A service request as submitted, before any database check."""

    model_config = _SHAPE

    channel: Channel
    requester: RequesterInput
    customer_name: Annotated[str | None, _Blank] = Field(default=None, max_length=200)
    site: SiteInput
    catalog_code: CatalogCode
    title: Annotated[str | None, _Blank] = Field(default=None, max_length=200)
    description: str = ""
    impact: Level
    urgency: Level
    window_start: Annotated[AwareDatetime | None, _Blank] = None
    window_end: Annotated[AwareDatetime | None, _Blank] = None
    service_date: Annotated[date | None, _Blank] = None
    requester_user_id: int | None = Field(default=None, gt=0)

    # A field validator rather than a model validator: it still runs when other
    # fields are invalid, so a wrong window is reported together with them.
    @field_validator("window_end")
    @classmethod
    def _window_ordered(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("window_start")
        if end is not None and start is not None and end <= start:
            raise PydanticCustomError("window_order", "window_end must be after window_start")
        return end


@dataclass(frozen=True)
class FieldError:
    """One problem with a submission.

    ``field`` is the dotted path of the input field (``"site.latitude"``,
    ``"requester.email"``); a problem with a whole part names the part
    (``"site"``).
    """

    field: str
    message: str


class IntakeError(ValueError):
    """A submission was refused; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


@dataclass(frozen=True)
class _Accepted:
    """A submission that passed every check, with what the checks looked up."""

    data: IntakeInput
    catalog_item: CatalogItem
    latitude: float
    longitude: float


#: Flat field names (form fields, CSV columns) and where each goes in the submission.
_REQUESTER_FIELDS = {
    "requester_name": "name",
    "requester_email": "email",
    "requester_phone": "phone",
}
_SITE_FIELDS = (
    "address",
    "latitude",
    "longitude",
    "access_notes",
    "contact_name",
    "contact_phone",
)
_REQUEST_FIELDS = (
    "channel",
    "customer_name",
    "catalog_code",
    "title",
    "description",
    "impact",
    "urgency",
    "window_start",
    "window_end",
    "service_date",
)
FLAT_FIELDS = frozenset(_REQUESTER_FIELDS) | frozenset(_SITE_FIELDS) | frozenset(_REQUEST_FIELDS)


def flat_submission(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Flat fields (a web form, a CSV row) in the nested shape ``IntakeInput`` reads.

    Blank fields are left out; names not in ``FLAT_FIELDS`` are ignored.
    """

    def given(name: str) -> bool:
        return bool((fields.get(name) or "").strip())

    return {
        "requester": {key: fields[name] for name, key in _REQUESTER_FIELDS.items() if given(name)},
        "site": {name: fields[name] for name in _SITE_FIELDS if given(name)},
        **{name: fields[name] for name in _REQUEST_FIELDS if given(name)},
    }


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
        The flushed request; ``request.jobs`` holds its one new job.

    Raises
    ------
    IntakeError
        With every problem found: invalid fields, an unknown or inactive
        catalog code, an address not found or that could not be checked.
    """
    accepted = _check(session, data, geocoder)
    item, submission = accepted.catalog_item, accepted.data
    priority = priority_for(submission.impact, submission.urgency)
    response_due, resolution_due = _sla_dues(item, priority, now)
    title = submission.title or item.name
    customer = _customer(session, submission.customer_name, now)
    reference = next_reference(session, REQUEST_PREFIX, year=now.year)

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
        parts=_parts(item),
        service_date=submission.service_date,
        window_start=submission.window_start,
        window_end=submission.window_end,
        sla_due=resolution_due,
        created_at=now,
    )
    session.add_all([site, request, job])
    session.flush()
    return request


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
        item, problem = _catalog_item(session, catalog_code)
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
        job.parts = _parts(item)
    priority = priority_for(impact, urgency)
    request.impact, request.urgency = impact, urgency
    request.priority = job.priority = priority
    request.sla_response_due, request.sla_resolution_due = _sla_dues(
        item, priority, request.created_at
    )
    job.sla_due = request.sla_resolution_due
    transition(session, job, JobStatus.TRIAGED)
    if item.requires_approval:
        transition(session, job, JobStatus.AWAITING_APPROVAL)
    return job


def _check(
    session: Session, data: Mapping[str, Any] | IntakeInput, geocoder: Geocoder
) -> _Accepted:
    """Validate the submission, look up its catalog item and locate its site."""
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
            code = _valid_part(_CATALOG_CODE.validate_python, data.get("catalog_code"))
            site = _valid_part(SiteInput.model_validate, data.get("site"))

    item = None
    if code is not None:
        item, problem = _catalog_item(session, code)
        if problem is not None:
            errors.append(problem)
    location = None
    if site is not None:
        location, problem = _locate(site, geocoder)
        if problem is not None:
            errors.append(problem)

    if errors:
        raise IntakeError(errors)
    # Each of these being missing left an error above.
    assert submission is not None and item is not None and location is not None
    return _Accepted(submission, item, *location)


def _valid_part(validate: Callable[[Any], T], value: Any) -> T | None:
    """``value`` validated on its own, or None when it is itself invalid."""
    try:
        return validate(value)
    except ValidationError:
        return None


def _catalog_item(session: Session, code: str) -> tuple[CatalogItem | None, FieldError | None]:
    """The active catalog item with ``code``, or the field error saying why there is none."""
    item = session.scalars(select(CatalogItem).where(CatalogItem.code == code)).one_or_none()
    if item is None:
        return None, FieldError("catalog_code", f"unknown catalog code {code!r}")
    if not item.active:
        return None, FieldError("catalog_code", f"catalog item {code!r} is no longer offered")
    return item, None


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
            "the address could not be checked right now; try again later,"
            " or give latitude and longitude",
        )
    if found is None:
        return None, FieldError(
            "site.address", "address not found; check it, or give latitude and longitude"
        )
    return (found.latitude, found.longitude), None


def _sla_dues(
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


def _parts(item: CatalogItem) -> list[JobPart]:
    """The catalog item's typical parts as job parts, in the order the catalog lists them."""
    return [
        JobPart(sku=sku, quantity=quantity, position=position)
        for position, (sku, quantity) in enumerate(item.typical_parts.items())
    ]

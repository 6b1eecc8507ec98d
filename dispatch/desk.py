"""The request desk: what dispatchers answering calls and visitors need from requests.

Before a call is recorded, ``record_desk_request`` looks for open requests raised
lately at the same place, so a second caller about the same broken boiler does not
become a second job. ``desk_requests`` lists requests for the desk (filters, search,
soonest resolution due first); ``request_history`` reads a request's story from the
event log in words; ``Clock`` shows instants and SLA countdowns on the service
area's clock.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from geopy.distance import geodesic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import ColumnElement, Enum, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from dbtypes import UTCDateTime
from dispatch.days import service_area_zone
from dispatch.enums import Channel, Priority
from dispatch.geocoding import Geocoder, GeocodingError
from dispatch.intake import FieldError, IntakeError, SiteInput, submit_request
from dispatch.lifecycle import TERMINAL
from dispatch.models import CatalogItem, Event, Job, ServiceRequest, Site, Technician, User
from dispatch.validation import NoNul

#: How far back an open request at the same place counts as a likely duplicate.
DUPLICATE_WINDOW = timedelta(days=14)
#: Sites closer than this are one place: the same address geocodes to the same point,
#: and coordinates read off a map by two people differ by a few metres.
SAME_PLACE_METRES = 50.0
#: Channels a dispatcher records. A walk-in has no channel of its own (``Channel`` is a
#: stored vocabulary); it is recorded as ``web``, by a dispatcher, as the event log shows.
DESK_CHANNELS = {Channel.PHONE: "Phone call", Channel.WEB: "At the desk"}
#: Longest search text and most rows per page the desk accepts.
MAX_SEARCH_LENGTH = 100
MAX_LIMIT = 200

_METRES_PER_DEGREE = 111_320.0


class DuplicateSuspected(Exception):
    """Open requests at the same place that the dispatcher has not yet seen and set aside."""

    def __init__(self, duplicates: list[ServiceRequest]) -> None:
        self.duplicates = duplicates
        super().__init__(", ".join(d.reference for d in duplicates))


def is_open(request: ServiceRequest) -> bool:
    """Whether some job of the request is still to be finished."""
    return any(job.status not in TERMINAL for job in request.jobs)


def _open_clause() -> ColumnElement[bool]:
    return exists().where(Job.request_id == ServiceRequest.id, Job.status.not_in(TERMINAL))


def likely_duplicates(
    session: Session, *, latitude: float, longitude: float, now: datetime
) -> list[ServiceRequest]:
    """Open requests raised within ``DUPLICATE_WINDOW`` at the place given, newest first.

    Places are compared by coordinates, not by the address typed: addresses are
    geocoded (through the cache) to the same point however they are spelled, and a
    site given by coordinates has no address to compare.
    """
    # A box around the point narrows the rows in SQL; the distance decides.
    lat_span = SAME_PLACE_METRES / _METRES_PER_DEGREE
    lon_span = lat_span / max(math.cos(math.radians(latitude)), 0.01)
    candidates = session.scalars(
        select(ServiceRequest)
        .join(ServiceRequest.site)
        .where(
            ServiceRequest.created_at >= now - DUPLICATE_WINDOW,
            Site.latitude.between(latitude - lat_span, latitude + lat_span),
            Site.longitude.between(longitude - lon_span, longitude + lon_span),
            _open_clause(),
        )
        .options(selectinload(ServiceRequest.jobs), selectinload(ServiceRequest.site))
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    )
    return [
        found
        for found in candidates
        if geodesic((latitude, longitude), (found.site.latitude, found.site.longitude)).m
        <= SAME_PLACE_METRES
    ]


def record_desk_request(
    session: Session,
    data: Mapping[str, Any],
    *,
    geocoder: Geocoder,
    now: datetime,
    seen: Collection[str] = (),
) -> ServiceRequest:
    """Record a request taken at the desk, unless it may duplicate one already open.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work; nothing is committed.
    data : Mapping
        The submission as ``submit_request`` reads it; its channel must be one of
        ``DESK_CHANNELS``.
    geocoder : Geocoder
        As for ``submit_request`` (a ``CachedGeocoder``: the address is looked up once).
    now : datetime
        Aware instant the call was taken.
    seen : collection of str
        References of likely duplicates the dispatcher was shown and chose to set aside.

    Returns
    -------
    ServiceRequest
        The flushed request, as ``submit_request`` returns it.

    Raises
    ------
    DuplicateSuspected
        A likely duplicate exists whose reference is not in ``seen``; nothing is added
        but the geocoder's cache entry.
    IntakeError
        The channel is not a desk channel, or ``submit_request`` refused the submission.
    """
    if data.get("channel") not in {channel.value for channel in DESK_CHANNELS}:
        raise IntakeError([FieldError("channel", "choose a phone call or at the desk")])
    place = _place(data.get("site"), geocoder)
    if place is not None:
        duplicates = likely_duplicates(session, latitude=place[0], longitude=place[1], now=now)
        if any(found.reference not in seen for found in duplicates):
            raise DuplicateSuspected(duplicates)
    return submit_request(session, data, geocoder=geocoder, now=now)


def _place(site: Any, geocoder: Geocoder) -> tuple[float, float] | None:
    """Coordinates of the submitted site, or None when it cannot be located (yet):
    ``submit_request`` then says why."""
    try:
        checked = SiteInput.model_validate(site)
    except ValidationError:
        return None
    if checked.latitude is not None and checked.longitude is not None:
        return checked.latitude, checked.longitude
    assert checked.address is not None  # SiteInput requires one or the other
    try:
        found = geocoder.geocode(checked.address)
    except GeocodingError:
        return None
    return None if found is None else (found.latitude, found.longitude)


_Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_SEARCH_LENGTH), NoNul
]


class DeskFilter(BaseModel):
    """What the desk's list shows: which requests, how many per page, which page."""

    model_config = ConfigDict(frozen=True)

    status: Literal["open", "closed", "all"] = "open"
    priority: Priority | None = None
    category: _Text | None = None
    channel: Channel | None = None
    q: _Text | None = None
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    page: int = Field(default=1, ge=1, le=100_000)


def desk_filter(args: Mapping[str, str]) -> DeskFilter:
    """The filter a query string asks for; blank fields mean "any", others are ignored.

    Raises
    ------
    IntakeError
        With each bad parameter by its name.
    """
    given = {
        name: value
        for name, value in args.items()
        if name in DeskFilter.model_fields and value.strip()
    }
    try:
        return DeskFilter.model_validate(given)
    except ValidationError as exc:
        raise IntakeError(
            [FieldError(str(error["loc"][0]), error["msg"]) for error in exc.errors()]
        ) from None


@dataclass(frozen=True)
class DeskRow:
    """One request in the desk's list, with its jobs' statuses in a phrase."""

    request: ServiceRequest
    open: bool
    statuses: str


@dataclass(frozen=True)
class DeskPage:
    rows: list[DeskRow]
    total: int
    filters: DeskFilter

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filters.limit))


def desk_requests(session: Session, filters: DeskFilter) -> DeskPage:
    """The page of requests ``filters`` selects, soonest resolution due first (none last)."""
    conditions = _conditions(filters)
    total = session.scalar(
        select(func.count(ServiceRequest.id))
        .join(ServiceRequest.site)
        .outerjoin(ServiceRequest.catalog_item)
        .where(*conditions)
    )
    found = session.scalars(
        select(ServiceRequest)
        .join(ServiceRequest.site)
        .outerjoin(ServiceRequest.catalog_item)
        .where(*conditions)
        .options(
            selectinload(ServiceRequest.jobs),
            selectinload(ServiceRequest.site),
            selectinload(ServiceRequest.catalog_item),
        )
        .order_by(
            ServiceRequest.sla_resolution_due.is_(None),
            ServiceRequest.sla_resolution_due,
            ServiceRequest.id,
        )
        .limit(filters.limit)
        .offset((filters.page - 1) * filters.limit)
    )
    rows = [
        DeskRow(
            request,
            is_open(request),
            ", ".join(dict.fromkeys(_words(job.status.value) for job in request.jobs)),
        )
        for request in found
    ]
    return DeskPage(rows, total or 0, filters)


def _conditions(filters: DeskFilter) -> list[ColumnElement[bool]]:
    """What ``filters`` asks of a request, its site (joined) and catalog item (outer-joined)."""
    conditions = []
    if filters.status != "all":
        conditions.append(_open_clause() if filters.status == "open" else ~_open_clause())
    if filters.priority is not None:
        conditions.append(ServiceRequest.priority == filters.priority)
    if filters.channel is not None:
        conditions.append(ServiceRequest.channel == filters.channel)
    if filters.category is not None:
        conditions.append(CatalogItem.category == filters.category)
    if filters.q is not None:
        searched = (
            ServiceRequest.reference,
            ServiceRequest.title,
            ServiceRequest.requester_name,
            Site.address,
        )
        conditions.append(or_(*(c.icontains(filters.q, autoescape=True) for c in searched)))
    return conditions


def categories(session: Session) -> list[str]:
    """The catalog's categories, for the desk's filter."""
    return list(session.scalars(select(CatalogItem.category).distinct().order_by("category")))


@dataclass(frozen=True)
class Clock:
    """Instants as people in the service area read them, and SLA countdowns from ``now``."""

    zone: ZoneInfo
    now: datetime

    def show(self, instant: datetime | None) -> str:
        """``2026-11-27 10:05 CET``, or a dash for no instant."""
        if instant is None:
            return "—"
        return instant.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def overdue(self, due: datetime) -> bool:
        return due <= self.now

    def countdown(self, due: datetime) -> str:
        """Time left until ``due`` (``2 h 05 min left``), or ``overdue by 1 d 3 h``.

        ``web/static/desk.js`` words it the same way when it updates the page each minute.
        """
        minutes = int(abs((due - self.now).total_seconds()) // 60)
        days, minutes = divmod(minutes, 24 * 60)
        hours, minutes = divmod(minutes, 60)
        if days:
            span = f"{days} d {hours} h"
        elif hours:
            span = f"{hours} h {minutes:02d} min"
        else:
            span = f"{minutes} min"
        return f"overdue by {span}" if self.overdue(due) else f"{span} left"


def desk_clock(session: Session, now: datetime) -> Clock:
    """The service area's clock at ``now``."""
    return Clock(service_area_zone(session), now)


@dataclass(frozen=True)
class HistoryEntry:
    """One change in a request's history: when, who, to what, and what changed, in words."""

    occurred_at: datetime
    actor: str
    subject: str
    changes: list[str]


#: What the history calls a changed field; fields not named here are spelled out.
_FIELD_NAMES = {
    "sla_response_due": "response due",
    "sla_resolution_due": "resolution due",
    "technician_id": "technician",
    "pinned_technician_id": "pinned to",
    "planned_start": "planned start",
    "planned_end": "planned end",
    "no_date_reason": "reason for no date",
    "outcome_note": "outcome",
    "requester_name": "requester",
}
#: Bookkeeping columns that tell a reader nothing.
_SILENT = frozenset({"id", "version", "request_id", "site_id", "customer_id", "catalog_item_id"})
_TABLES = {model.__tablename__: model.__table__ for model in (ServiceRequest, Job, Site)}
#: What a requester may read of their own request's history: its jobs' progress.
_PUBLIC = frozenset({"status"})


def request_history(
    session: Session, request: ServiceRequest, *, clock: Clock, internal: bool
) -> list[HistoryEntry]:
    """The request's, its site's and its jobs' events from the log, oldest first, in words.

    ``internal`` is for dispatchers: every change and who made it. Without it (the
    requester's own view) only the request being raised and its jobs' status changes
    are told, with no names of staff.
    """
    subjects = {
        (ServiceRequest.__tablename__, str(request.id)): f"Request {request.reference}",
        (Site.__tablename__, str(request.site_id)): "Site",
        **{(Job.__tablename__, str(job.id)): f"Job {job.reference}" for job in request.jobs},
    }
    events = session.scalars(
        select(Event)
        .where(
            or_(
                *(
                    and_(Event.entity_type == kind, Event.entity_id == key)
                    for kind, key in subjects
                )
            )
        )
        .order_by(Event.occurred_at, Event.id)
    ).all()
    words = _Words(session, clock, events)
    entries: list[HistoryEntry] = []
    for event in events:
        subject = subjects[(event.entity_type, event.entity_id)]
        if event.action == "created":
            if event.entity_type == Site.__tablename__:
                continue  # raised with the request; its creation tells nothing more
            changes = [words.creation(event)]
        else:
            changes = words.changes(event, None if internal else _PUBLIC)
        if not changes:
            continue
        entry = HistoryEntry(
            event.occurred_at, words.actor(event) if internal else "", subject, changes
        )
        if entries and _same_line(entries[-1], entry, clock):
            # One entry for what reads as one moment (triage right after intake, say).
            entries[-1] = replace(entries[-1], changes=[*entries[-1].changes, *changes])
        else:
            entries.append(entry)
    return entries


def _same_line(earlier: HistoryEntry, later: HistoryEntry, clock: Clock) -> bool:
    """Whether two entries would show the same minute, subject and actor."""
    return (earlier.subject, earlier.actor, clock.show(earlier.occurred_at)) == (
        later.subject,
        later.actor,
        clock.show(later.occurred_at),
    )


class _Words:
    """Reads events' field changes as sentences; names of people and technicians looked up."""

    def __init__(self, session: Session, clock: Clock, events: Collection[Event]) -> None:
        self._clock = clock
        user_ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
        self._users = {
            user.id: user.full_name
            for user in session.scalars(select(User).where(User.id.in_(user_ids)))
        }
        technician_ids = {
            value
            for event in events
            for name in ("technician_id", "pinned_technician_id")
            for value in event.changes.get(name, ())
            if isinstance(value, int)
        }
        self._technicians = {
            technician.id: f"{technician.code} {technician.name}"
            for technician in session.scalars(
                select(Technician).where(Technician.id.in_(technician_ids))
            )
        }

    def actor(self, event: Event) -> str:
        if event.actor_user_id is not None and event.actor_user_id in self._users:
            return self._users[event.actor_user_id]
        return event.actor

    def creation(self, event: Event) -> str:
        new = {name: change[1] for name, change in event.changes.items()}
        if event.entity_type == ServiceRequest.__tablename__:
            channel = _words(str(new.get("channel", "")))
            return f"Raised ({channel}), priority {new.get('priority')}"
        return f"Created, status {_words(str(new.get('status', '')))}"

    def changes(self, event: Event, only: frozenset[str] | None) -> list[str]:
        table = _TABLES[event.entity_type]
        told = []
        for name, (old, new) in event.changes.items():
            if name in _SILENT or (only is not None and name not in only):
                continue
            label = _FIELD_NAMES.get(name, _words(name)).capitalize()
            before, after = self._value(table, name, old), self._value(table, name, new)
            if old is None:
                told.append(f"{label} set to {after}")
            elif new is None:
                told.append(f"{label} cleared (was {before})")
            else:
                told.append(f"{label} changed from {before} to {after}")
        return told

    def _value(self, table: Any, name: str, value: Any) -> str:
        if value is None:
            return "none"
        if name in ("technician_id", "pinned_technician_id"):
            return self._technicians.get(value, f"technician #{value}")
        column = table.columns.get(name)
        if column is not None and isinstance(column.type, UTCDateTime):
            return self._clock.show(datetime.fromisoformat(value))
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        if column is not None and isinstance(column.type, Enum):
            return _words(value)
        return str(value)


def _words(value: str) -> str:
    """A stored value as words: ``en_route`` is "en route"."""
    return value.replace("_", " ")

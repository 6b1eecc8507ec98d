"""The request desk's services: duplicate suggestions, SLA countdowns, a request's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.audit import set_actor
from dispatch.desk import (
    Clock,
    DuplicateSuspected,
    likely_duplicates,
    record_desk_request,
    request_history,
)
from dispatch.enums import Channel, JobStatus, Priority
from dispatch.geocoding import GeocodeResult
from dispatch.intake import IntakeError, submit_request
from dispatch.lifecycle import transition
from dispatch.models import CatalogItem, ServiceRequest, SlaTarget

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ADDRESS = "Storgata 1, Oslo"
HERE = (59.9127, 10.7461)


class OneAddress:
    """A geocoder that knows ``ADDRESS`` only."""

    def geocode(self, query: str) -> GeocodeResult | None:
        if query != ADDRESS:
            return None
        return GeocodeResult(latitude=HERE[0], longitude=HERE[1], display_name=query)


@pytest.fixture(autouse=True)
def catalog(session: Session) -> None:
    """A leak repair triaged on arrival (no technician, so no service date)."""
    session.add(
        CatalogItem(
            code="LEAK",
            name="Leak repair",
            category="plumbing",
            default_duration_min=45,
            sla_targets=[
                SlaTarget(priority=p, response_minutes=60, resolution_minutes=240)
                for p in Priority
            ],
        )
    )
    session.flush()


def call(*, channel: str = "phone", **site: Any) -> dict[str, Any]:
    """A desk submission at ``site`` (by default the coordinates ``HERE``)."""
    return {
        "channel": channel,
        "requester": {"name": "Kari Nordmann", "phone": "+47 22 00 00 00"},
        "site": site or {"latitude": HERE[0], "longitude": HERE[1]},
        "catalog_code": "LEAK",
        "impact": "medium",
        "urgency": "medium",
    }


def raise_at(session: Session, latitude: float, longitude: float, *, ago: timedelta) -> str:
    """Record a request at the point, raised ``ago`` before ``NOW``; its reference."""
    created = submit_request(
        session,
        call(latitude=latitude, longitude=longitude),
        geocoder=OneAddress(),
        now=NOW - ago,
    )
    return created.reference


def test_likely_duplicates_are_open_recent_requests_at_the_same_place(session: Session) -> None:
    """Open requests raised within the window at the point or a few metres away are found,
    newest first; older, closed and distant ones are not."""
    here = raise_at(session, *HERE, ago=timedelta(days=3))
    nearby = raise_at(session, HERE[0] + 0.0003, HERE[1], ago=timedelta(hours=2))  # ~33 m
    raise_at(session, HERE[0] + 0.002, HERE[1], ago=timedelta(hours=1))  # ~220 m
    raise_at(session, *HERE, ago=timedelta(days=15))
    closed = session.scalars(
        select(ServiceRequest).where(
            ServiceRequest.reference == raise_at(session, *HERE, ago=timedelta(days=1))
        )
    ).one()
    transition(session, closed.jobs[0], JobStatus.CANCELLED, note="the caller fixed it")
    session.flush()

    found = likely_duplicates(session, latitude=HERE[0], longitude=HERE[1], now=NOW)

    assert [r.reference for r in found] == [nearby, here]


def test_desk_request_waits_for_the_dispatcher_to_set_duplicates_aside(session: Session) -> None:
    """A second call about the geocoded address is refused listing the first, writing
    nothing; with the first marked as seen it is recorded, with the channel given."""
    first = record_desk_request(session, call(address=ADDRESS), geocoder=OneAddress(), now=NOW)
    assert first.channel == Channel.PHONE

    with pytest.raises(DuplicateSuspected) as suspected:
        record_desk_request(
            session, call(channel="web", address=ADDRESS), geocoder=OneAddress(), now=NOW
        )
    assert suspected.value.duplicates == [first]
    assert session.scalar(select(func.count(ServiceRequest.id))) == 1

    second = record_desk_request(
        session,
        call(channel="web", address=ADDRESS),
        geocoder=OneAddress(),
        now=NOW,
        seen={first.reference},
    )
    assert second.channel == Channel.WEB and second.reference != first.reference


def test_desk_request_takes_only_desk_channels(session: Session) -> None:
    """A desk request claiming to come by e-mail is refused on its channel."""
    with pytest.raises(IntakeError) as refused:
        record_desk_request(session, call(channel="email"), geocoder=OneAddress(), now=NOW)
    assert [e.field for e in refused.value.errors] == ["channel"]


def test_countdown_words_time_left_and_overdue() -> None:
    """Countdowns say days and hours, hours and minutes, or minutes; past dues are overdue;
    instants show on the area's clock."""
    clock = Clock(ZoneInfo("Europe/Oslo"), NOW)

    assert clock.countdown(NOW + timedelta(days=3, hours=4, minutes=59)) == "3 d 4 h left"
    assert clock.countdown(NOW + timedelta(hours=2, minutes=5, seconds=30)) == "2 h 05 min left"
    assert clock.countdown(NOW + timedelta(minutes=7)) == "7 min left"
    assert clock.countdown(NOW - timedelta(hours=1, minutes=10)) == "overdue by 1 h 10 min"
    assert clock.overdue(NOW) and not clock.overdue(NOW + timedelta(seconds=1))
    assert clock.show(NOW) == "2026-11-27 10:00 CET"


def test_history_tells_dispatchers_everything_and_requesters_their_progress(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dispatchers read every change with who made it; the requester reads the request being
    raised and its job's status changes, with no staff names and no internal notes. Entries
    that show the same minute, subject and actor are one."""
    # The log's clock stopped, so that every event falls in the same minute.
    monkeypatch.setattr("dispatch.audit.utcnow", lambda: NOW)
    set_actor(session, user_id=None, name="desk")
    created = raise_at(session, *HERE, ago=timedelta(0))
    request = session.scalars(
        select(ServiceRequest).where(ServiceRequest.reference == created)
    ).one()
    set_actor(session, user_id=None, name="dora")
    transition(session, request.jobs[0], JobStatus.CANCELLED, note="caller fixed it")
    session.flush()
    clock = Clock(ZoneInfo("Europe/Oslo"), NOW)

    internal = request_history(session, request, clock=clock, internal=True)
    public = request_history(session, request, clock=clock, internal=False)

    raised, intake, cancelled = internal
    assert (raised.actor, raised.changes) == ("desk", ["Raised (phone), priority normal"])
    assert (intake.actor, intake.subject) == ("desk", f"Job {created}-1")
    assert intake.changes[:2] == ["Created, status new", "Status changed from new to triaged"]
    assert (cancelled.actor, cancelled.subject) == ("dora", f"Job {created}-1")
    assert "Status changed from triaged to cancelled" in cancelled.changes
    assert "Outcome set to caller fixed it" in cancelled.changes
    # For the requester the job's intake and cancellation are one moment: no actors differ.
    assert [(e.actor, e.subject) for e in public] == [
        ("", f"Request {created}"),
        ("", f"Job {created}-1"),
    ]
    assert public[1].changes == [
        "Created, status new",
        "Status changed from new to triaged",
        "Status changed from triaged to cancelled",
    ]

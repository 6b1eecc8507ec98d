"""The request desk: recording calls, the list of requests, a request's page and history."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import set_actor
from dispatch.db import utcnow
from dispatch.enums import Channel, JobStatus, Priority, Role
from dispatch.lifecycle import transition
from dispatch.models import (
    CatalogItem,
    Event,
    Job,
    ServiceDay,
    ServiceRequest,
    Site,
    SlaTarget,
)
from mobile_api.http import SESSIONS_KEY
from tests.web.conftest import ADDRESS, csrf_token

OSLO = ZoneInfo("Europe/Oslo")
CALL = {
    "channel": "phone",
    "requester_name": "Per Hansen",
    "requester_phone": "+47 22 33 44 55",
    "address": ADDRESS,
    "catalog_code": "LEAK",
    "description": "Water under the sink",
    "impact": "medium",
    "urgency": "medium",
}


@pytest.fixture(autouse=True)
def service_area(app: Flask) -> None:
    """Two catalog items in two categories, and a service day that puts the area in Oslo."""
    with app.extensions[SESSIONS_KEY].begin() as session:
        session.add_all(
            CatalogItem(
                code=code,
                name=name,
                category=category,
                default_duration_min=60,
                sla_targets=[
                    SlaTarget(priority=p, response_minutes=60, resolution_minutes=480)
                    for p in Priority
                ],
            )
            for code, name, category in (
                ("LEAK", "Leak repair", "plumbing"),
                ("WM-REPAIR", "Washing machine repair", "appliance"),
            )
        )
        session.add(
            ServiceDay(
                day=date(2026, 11, 27),
                name="Oslo",
                timezone="Europe/Oslo",
                travel_speed_kmh=30,
                travel_circuity=1.3,
            )
        )


@pytest.fixture
def dispatcher(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("dora", Role.DISPATCHER)
    return login("dora")


@pytest.fixture
def requester(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("rita", Role.REQUESTER)
    return login("rita")


def post_call(client: FlaskClient, **fields: str) -> tuple[int, str, str]:
    """Post the desk form; its status, body and redirect target."""
    response = client.post(
        "/desk/new", data={**CALL, **fields, "csrf_token": csrf_token(client, "/desk/new")}
    )
    return response.status_code, response.get_data(as_text=True), response.location or ""


def add_request(
    session: Session,
    reference: str,
    *,
    due_in: timedelta | None,
    status: JobStatus = JobStatus.TRIAGED,
    priority: Priority = Priority.NORMAL,
    code: str = "LEAK",
    channel: Channel = Channel.PHONE,
    requester: str = "Kari Nordmann",
    address: str = "Kirkeveien 2, Oslo",
) -> None:
    """A request with one job in ``status``, its resolution due ``due_in`` from now."""
    item = session.scalars(select(CatalogItem).where(CatalogItem.code == code)).one()
    site = Site(name=address, address=address, latitude=59.93, longitude=10.72)
    request = ServiceRequest(
        reference=reference,
        channel=channel,
        requester_name=requester,
        site=site,
        catalog_item=item,
        title=item.name,
        priority=priority,
        sla_resolution_due=None if due_in is None else utcnow() + due_in,
    )
    session.add(
        Job(
            reference=f"{reference}-1",
            request=request,
            site=site,
            title=item.name,
            status=status,
            priority=priority,
            duration_min=60,
        )
    )


def listed(html: str) -> list[str]:
    """References of the requests the desk's table lists, in order."""
    return re.findall(r'<td><a href="/requests/([^"]+)">', html)


def test_requesters_cannot_open_the_desk_nor_requests_of_others(
    dispatcher: FlaskClient, requester: FlaskClient
) -> None:
    """The desk's pages are 403 to a requester; a request recorded at the desk is not theirs."""
    status, _, location = post_call(dispatcher)
    assert status == 302

    assert requester.get("/desk").status_code == 403
    assert requester.get("/desk/new").status_code == 403
    assert requester.get(location).status_code == 404


def test_phone_call_is_recorded_and_a_second_call_offers_the_first_as_duplicate(
    app: Flask, dispatcher: FlaskClient
) -> None:
    """A call is recorded with channel phone and the caller's details; a walk-in about the
    same address comes back listing it, writes nothing, and is recorded once confirmed."""
    status, _, location = post_call(dispatcher)
    assert status == 302
    first = location.rsplit("/", 1)[1]
    with app.extensions[SESSIONS_KEY]() as session:
        recorded = session.scalars(select(ServiceRequest)).one()
        assert (recorded.reference, recorded.channel) == (first, Channel.PHONE)
        assert (recorded.requester_name, recorded.requester_phone) == (
            "Per Hansen",
            CALL["requester_phone"],
        )
        assert recorded.requester_user_id is None, "the caller is not the dispatcher"

    status, html, _ = post_call(dispatcher, channel="web", requester_name="Eva Berg")
    assert status == 409
    assert f'<a href="/requests/{first}">{first}</a>' in html and "Record it anyway" in html
    seen = re.search(r'name="seen_duplicates" value="([^"]*)"', html)
    assert seen is not None and seen.group(1) == first
    assert 'value="Eva Berg"' in html, "what was typed is kept"

    status, _, location = post_call(
        dispatcher, channel="web", requester_name="Eva Berg", seen_duplicates=first
    )
    assert status == 302 and location.rsplit("/", 1)[1] != first
    with app.extensions[SESSIONS_KEY]() as session:
        channels = session.scalars(select(ServiceRequest.channel).order_by(ServiceRequest.id))
        assert list(channels) == [Channel.PHONE, Channel.WEB]


def test_desk_lists_open_requests_by_due_with_countdowns(
    app: Flask, dispatcher: FlaskClient
) -> None:
    """Open requests come soonest due first (none last), each with its countdown or overdue
    time and the due instant for desk.js; closed ones only when asked for."""
    with app.extensions[SESSIONS_KEY].begin() as session:
        add_request(session, "SR-LATER", due_in=timedelta(hours=5, seconds=30))
        add_request(session, "SR-NODUE", due_in=None)
        add_request(session, "SR-LATE", due_in=-timedelta(hours=2, seconds=30))
        add_request(session, "SR-DONE", due_in=timedelta(hours=1), status=JobStatus.COMPLETED)

    html = dispatcher.get("/desk").get_data(as_text=True)

    assert listed(html) == ["SR-LATE", "SR-LATER", "SR-NODUE"]
    assert 'class="countdown overdue"' in html and "overdue by 2 h 00 min" in html
    assert "5 h 00 min left" in html
    with app.extensions[SESSIONS_KEY]() as session:
        due = session.scalars(
            select(ServiceRequest.sla_resolution_due).where(ServiceRequest.reference == "SR-LATER")
        ).one()
    assert f'data-due="{due.isoformat()}"' in html
    assert due.astimezone(OSLO).strftime("%Y-%m-%d %H:%M %Z") in html, "due on the area's clock"
    assert listed(dispatcher.get("/desk?status=closed").get_data(as_text=True)) == ["SR-DONE"]


def test_desk_filters_search_and_refuses_bad_filters(app: Flask, dispatcher: FlaskClient) -> None:
    """Priority, category, channel and free text narrow the list; bad values are named in a
    422 page instead of a list."""
    with app.extensions[SESSIONS_KEY].begin() as session:
        add_request(session, "SR-A", due_in=timedelta(hours=1), priority=Priority.HIGH)
        add_request(session, "SR-B", due_in=timedelta(hours=2), code="WM-REPAIR")
        add_request(session, "SR-C", due_in=timedelta(hours=3), channel=Channel.WEB)
        add_request(session, "SR-D", due_in=timedelta(hours=4), requester="Ola 100%")

    def refs(query: str) -> list[str]:
        response = dispatcher.get(f"/desk?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return listed(response.get_data(as_text=True))

    assert refs("priority=high") == ["SR-A"]
    assert refs("category=appliance") == ["SR-B"]
    assert refs("channel=web") == ["SR-C"]
    assert refs("q=ola+100%25") == ["SR-D"], "case-insensitive, and % is a character"
    assert refs("q=sr-b") == ["SR-B"]
    assert refs("q=kirkeveien&limit=2&page=2&priority=") == ["SR-C", "SR-D"]

    response = dispatcher.get("/desk?status=shut&limit=0&q=" + "x" * 101)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert all(name in html for name in ("status: ", "limit: ", "q: ")) and not listed(html)


def test_request_page_shows_history_on_the_local_clock(
    app: Flask, dispatcher: FlaskClient, requester: FlaskClient
) -> None:
    """A dispatcher sees the job's status change with its local time and who made it; the
    requester sees the change on their own request, without the name or the note."""
    form = {**CALL, "requester_email": "rita@example.org"}
    del form["channel"]
    response = requester.post(
        "/requests/new", data={**form, "csrf_token": csrf_token(requester, "/requests/new")}
    )
    assert response.status_code == 302
    reference = response.location.rsplit("/", 1)[1]
    with app.extensions[SESSIONS_KEY].begin() as session:
        set_actor(session, user_id=None, name="dora")
        job = session.scalars(select(Job)).one()
        transition(session, job, JobStatus.CANCELLED, note="duplicate of another call")
    with app.extensions[SESSIONS_KEY]() as session:
        when = session.scalars(
            select(Event.occurred_at).where(Event.actor == "dora", Event.entity_type == "jobs")
        ).one()
    local = when.astimezone(OSLO).strftime("%Y-%m-%d %H:%M %Z")

    html = dispatcher.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Status changed from triaged to cancelled" in html
    assert f"{local}</time>\n    · Job {reference}-1 · by dora" in html
    assert "duplicate of another call" in html and "Per Hansen" in html and ADDRESS in html

    own = requester.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Status changed from triaged to cancelled" in own and local in own
    assert "by dora" not in own and "duplicate of another call" not in own

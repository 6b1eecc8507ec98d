"""Raising service requests through the web form and the JSON API."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from collections.abc import Callable
from datetime import date, timedelta
from datetime import time as clock
from importlib import resources
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from dispatch.catalog import load_catalog
from dispatch.days import plannable_jobs
from dispatch.db import utcnow
from dispatch.enums import Role
from dispatch.models import Customer, Event, Job, ServiceRequest, Site, WorkingHours
from inventory.models import Part
from mobile_api.http import SESSIONS_KEY
from tests.fake_nominatim import FakeNominatim
from tests.helpers import make_job, make_technician
from tests.web.conftest import ADDRESS, PASSWORD, PLACE, csrf_token

VALID = {
    "requester": {"name": "Kari Nordmann", "email": "kari@example.org"},
    "site": {"latitude": 59.91, "longitude": 10.75, "access_notes": "gate 1234"},
    "catalog_code": "BOILER-SVC",
    "description": "No hot water",
    "impact": "high",
    "urgency": "medium",
}


@pytest.fixture(autouse=True)
def catalog(app: Flask) -> None:
    """The catalog shipped with the demo, after the parts its items list."""
    document = json.loads(resources.files("dispatch").joinpath("data/catalog.json").read_text())
    skus = sorted({sku for item in document["items"] for sku in item.get("typical_parts", {})})
    with app.extensions[SESSIONS_KEY].begin() as session:
        session.add_all(Part(sku=sku, name=f"Part {sku}") for sku in skus)
        session.flush()
        load_catalog(session, document)


@pytest.fixture
def requester(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("rita", Role.REQUESTER)
    return login("rita")


def _json(response: TestResponse) -> dict[str, Any]:
    """The response's JSON object (failing the test when there is none)."""
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    return body


def _count(app: Flask, model: type) -> int:
    with app.extensions[SESSIONS_KEY]() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_api_records_request_with_priority_and_sla(app: Flask, requester: FlaskClient) -> None:
    """A valid JSON request gets 201, a reference, a computed priority and SLA dues; with no
    technician for it, its job is triaged without a day, and the answer says why."""
    response = requester.post("/api/v1/requests", json=VALID)

    assert response.status_code == 201, response.json
    body = _json(response)
    assert body["reference"].startswith("SR-") and body["priority"] == "high"
    job = body["job"]
    assert (job["reference"], job["status"]) == (body["reference"] + "-1", "triaged")
    assert job["service_date"] is None
    assert "no active technician with the skills gas, plumbing" in job["no_date_reason"]
    assert response.headers["Location"] == f"/requests/{body['reference']}"
    with app.extensions[SESSIONS_KEY]() as session:
        created = session.scalar(select(ServiceRequest))
        assert created.channel.value == "api"
        assert (created.sla_resolution_due - created.created_at).total_seconds() == 1440 * 60
        actors = set(session.scalars(select(Event.actor).where(Event.entity_type == "jobs")))
        assert actors == {"rita"}, "the event log names the signed-in user"


def test_api_request_arrives_triaged_on_a_day_the_planner_reads(
    app: Flask, requester: FlaskClient
) -> None:
    """With a technician for the work, the 201 answer shows the job triaged on a day, and that
    day's plannable jobs include it."""
    with app.extensions[SESSIONS_KEY].begin() as session:
        technician = make_technician(session)
        technician.skills = ["gas", "plumbing"]
        technician.working_hours = [
            WorkingHours(weekday=d, start_time=clock(0), end_time=clock(23)) for d in range(7)
        ]

    response = requester.post("/api/v1/requests", json=VALID)

    assert response.status_code == 201, response.json
    job = _json(response)["job"]
    assert (job["status"], job["no_date_reason"]) == ("triaged", None)
    day = date.fromisoformat(job["service_date"])
    today = utcnow().date()  # no service day is set up, so the area counts days in UTC
    assert day in (today, today + timedelta(days=1)), "today, or tomorrow once today's shift ends"
    with app.extensions[SESSIONS_KEY]() as session:
        assert [j.reference for j in plannable_jobs(session, day)] == [job["reference"]]


def test_api_refuses_a_service_date_too_far_ahead(app: Flask, requester: FlaskClient) -> None:
    """A named service date the plan cannot reach is a 422 on service_date; no rows."""
    response = requester.post("/api/v1/requests", json={**VALID, "service_date": "2999-01-01"})

    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    [error] = _json(response)["errors"]
    assert error["field"] == "service_date" and "more than 366 days ahead" in error["message"]
    assert _rows(app) == [0, 0, 0, 0]


def test_api_lists_every_bad_field_and_writes_nothing(app: Flask, requester: FlaskClient) -> None:
    """Several bad fields give one 422 problem listing each of them, and no rows."""
    bad = {
        **VALID,
        "requester": {"name": "", "email": "not-an-email"},
        "site": {"latitude": 200, "longitude": 10},
        "catalog_code": "NO-SUCH",
        "impact": "huge",
    }
    events_before = _count(app, Event)

    response = requester.post("/api/v1/requests", json=bad)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    fields = {e["field"] for e in _json(response)["errors"]}
    assert {
        "requester.name",
        "requester.email",
        "site.latitude",
        "catalog_code",
        "impact",
    } <= fields
    assert [_count(app, m) for m in (ServiceRequest, Job, Site, Customer)] == [0, 0, 0, 0]
    assert _count(app, Event) == events_before


def test_api_geocodes_an_address(
    app: Flask, requester: FlaskClient, nominatim: FakeNominatim
) -> None:
    """An address without coordinates is looked up (real geopy client, local server)."""
    submission = {**VALID, "site": {"address": ADDRESS}}
    response = requester.post("/api/v1/requests", json=submission)
    assert response.status_code == 201, response.json
    with app.extensions[SESSIONS_KEY]() as session:
        site = session.scalar(select(Site))
        assert (site.latitude, site.longitude) == PLACE[:2]
    assert nominatim.request_count == 1


def test_api_needs_credentials_and_accepts_basic_auth(
    app: Flask, add_user: Callable[..., int]
) -> None:
    """No credentials: 401 problem with a Basic challenge; Basic credentials work."""
    client = app.test_client()
    response = client.post("/api/v1/requests", json=VALID)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    add_user("script", Role.REQUESTER)
    token = b64encode(f"script:{PASSWORD}".encode()).decode()
    response = client.post(
        "/api/v1/requests", json=VALID, headers={"Authorization": f"Basic {token}"}
    )
    assert response.status_code == 201


def test_api_refuses_roles_that_do_not_raise_requests(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """A warehouse clerk gets 403 problem+json."""
    add_user("wes", Role.WAREHOUSE)
    response = login("wes").post("/api/v1/requests", json=VALID)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"


def test_api_refuses_non_object_body(requester: FlaskClient) -> None:
    """A body that is not a JSON object is a 400 problem, not a crash."""
    response = requester.post("/api/v1/requests", data="[1, 2", content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_form_shows_every_error_then_accepts_corrected_input(
    app: Flask, requester: FlaskClient
) -> None:
    """The form redisplays each error by its field, under human labels, then records the fix."""
    form = {
        "catalog_code": "LEAK",
        "impact": "low",
        "urgency": "low",
        "requester_name": "",
        "requester_email": "nope",
        "latitude": "59.9",
        "longitude": "",
        "csrf_token": csrf_token(requester, "/requests/new"),
    }
    response = requester.post("/requests/new", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for label in ("Requester name", "Requester e-mail", "Site location"):
        assert f">{label}</a></li>" in page, "the summary lists the field by its label"
    for name in ("requester_name", "requester_email", "site"):
        assert f'id="{name}-error"' in page, "the message stands by its field"
    assert "requester.name" not in page and "requester.email" not in page
    assert 'value="nope"' in page, "what the user typed is kept"

    form.update(requester_name="Rita", requester_email="rita@example.org", longitude="10.7")
    response = requester.post("/requests/new", data=form)
    assert response.status_code == 302
    shown = requester.get(response.headers["Location"])
    assert shown.status_code == 200 and "low" in shown.get_data(as_text=True)
    with app.extensions[SESSIONS_KEY]() as session:
        assert session.scalar(select(ServiceRequest.channel)).value == "web"


def test_requesters_see_only_their_own_requests(
    app: Flask,
    requester: FlaskClient,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    """Another requester gets 404 for a request that is not theirs; a dispatcher sees it."""
    location = requester.post("/api/v1/requests", json=VALID).headers["Location"]
    add_user("other", Role.REQUESTER)
    add_user("dana", Role.DISPATCHER)
    assert login("other").get(location).status_code == 404
    assert login("dana").get(location).status_code == 200


def _rows(app: Flask) -> list[int]:
    """How many requests, jobs, sites and customers there are."""
    return [_count(app, model) for model in (ServiceRequest, Job, Site, Customer)]


def test_api_answers_201_after_an_import_took_the_next_reference(
    app: Flask, requester: FlaskClient
) -> None:
    """A job imported under the next reference's id does not stop intake: it skips that number."""
    taken = f"SR-{utcnow().year}-000001"
    with app.extensions[SESSIONS_KEY].begin() as session:
        make_job(session, reference=f"{taken}-1")  # as the scenario importer writes a job

    first = requester.post("/api/v1/requests", json=VALID)
    second = requester.post("/api/v1/requests", json=VALID)

    assert (first.status_code, second.status_code) == (201, 201), first.json
    references = {_json(first)["reference"], _json(second)["reference"]}
    assert taken not in references and len(references) == 2


BAD_BODIES = {
    "nul-description": ({"description": "no\x00hot water"}, "description"),
    "nul-name": ({"requester": {"name": "Ri\x00ta"}}, "requester.name"),
    "long-description": ({"description": "d" * 4001}, "description"),
    "long-name": ({"requester": {"name": "r" * 201}}, "requester.name"),
    "long-address": (
        {"site": {"address": "a" * 201, "latitude": 59.9, "longitude": 10.7}},
        "site.address",
    ),
    "before-year-1-in-utc": ({"window_start": "0001-01-01T00:00:00+01:00"}, "window_start"),
    "after-year-9999-in-utc": ({"window_end": "9999-12-31T23:59:00-01:00"}, "window_end"),
    "naive-window": ({"window_start": "2026-03-03T08:00:00"}, "window_start"),
    "huge-latitude": ({"site": {"latitude": 1e400, "longitude": 10.7}}, "site.latitude"),
}


@pytest.mark.parametrize(("changes", "field"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_api_refuses_what_a_database_cannot_hold_with_422(
    app: Flask, requester: FlaskClient, changes: dict[str, object], field: str
) -> None:
    """NUL, over-long text and instants outside UTC's range are 422 naming the field; no rows."""
    response = requester.post("/api/v1/requests", json={**VALID, **changes})

    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert [e["field"] for e in _json(response)["errors"]] == [field]
    assert _rows(app) == [0, 0, 0, 0]


def test_form_refuses_nul_by_its_field(app: Flask, requester: FlaskClient) -> None:
    """A NUL typed or pasted into the form is shown under its field's label; nothing is written."""
    form = {
        "catalog_code": "LEAK",
        "impact": "low",
        "urgency": "low",
        "requester_name": "Rita",
        "latitude": "59.9",
        "longitude": "10.7",
        "title": "Leak\x00",
        "csrf_token": csrf_token(requester, "/requests/new"),
    }

    response = requester.post("/requests/new", data=form)

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<a href="#title">Title</a>' in page
    assert 'id="title-error">must not contain NUL characters' in page
    assert _rows(app) == [0, 0, 0, 0]


def test_form_without_geocoding_service_answers_quickly_by_the_address(
    app: Flask, requester: FlaskClient, nominatim: FakeNominatim
) -> None:
    """No geocoding service: one clear message by the address field, no traceback, no wait."""
    nominatim.stop()
    form = {
        "catalog_code": "LEAK",
        "impact": "low",
        "urgency": "low",
        "requester_name": "Rita",
        "address": ADDRESS,
        "csrf_token": csrf_token(requester, "/requests/new"),
    }
    started = time.monotonic()

    response = requester.post("/requests/new", data=form)

    page = response.get_data(as_text=True)
    assert time.monotonic() - started < 3.0
    assert response.status_code == 422
    assert '<a href="#address">Site address</a>' in page
    assert 'id="address-error">the address could not be checked' in page
    assert "Traceback" not in page
    assert _rows(app) == [0, 0, 0, 0]


@pytest.mark.parametrize("reference", ["SR-2026-%00", "SR-" + "9" * 500])
def test_odd_reference_in_the_address_is_404(requester: FlaskClient, reference: str) -> None:
    """A NUL or an overlong reference in the URL finds nothing, on both databases."""
    assert requester.get(f"/requests/{reference}").status_code == 404

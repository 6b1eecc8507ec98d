"""The demo day served, probed with hostile and careless input: never a 5xx, never half-written.

Every probe runs against an app holding the shipped catalog and demo day, on SQLite and on
PostgreSQL. A refused request must leave every table exactly as it was; an accepted one is
the only thing allowed to write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dispatch.catalog import load_catalog
from dispatch.db import Base
from dispatch.enums import Role
from dispatch.scenario import ScenarioError, import_scenario
from inventory.models import InventoryBase
from mobile_api.http import SESSIONS_KEY
from tests.web.conftest import csrf_token

VALID: dict[str, Any] = {
    "requester": {"name": "Kari Nordmann", "email": "kari@example.org"},
    "site": {"latitude": 59.33, "longitude": 18.06, "access_notes": "gate 1234"},
    "catalog_code": "BOILER-SVC",
    "description": "No hot water",
    "impact": "high",
    "urgency": "medium",
}

#: Values that broke the foundation once (issue 7), each tried in every field.
HOSTILE = [
    "\x00",
    "boiler\x00room",
    "x" * 1_000_000,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:00-01:00",
    "2026-11-24T08:00:00",
    2**31,
    2**63,
    -(2**63) - 1,
    10**400,
    1e308,
    float("inf"),
    True,
    None,
    [],
    {},
    [[[[[]]]]],
    "<script>alert(1)</script>",
    "'; DROP TABLE jobs; --",
]

TABLES = sorted(
    (
        table
        for metadata in (Base.metadata, InventoryBase.metadata)
        for table in metadata.sorted_tables
    ),
    key=lambda table: table.name,
)


@pytest.fixture
def demo_app(app: Flask, add_user: Callable[..., int]) -> Flask:
    """The app holding the shipped catalog, the demo day and a dispatcher account."""
    data = resources.files("dispatch").joinpath("data")
    with app.extensions[SESSIONS_KEY].begin() as session:
        import_scenario(session, json.loads(data.joinpath("demo-day.json").read_text()))
        load_catalog(session, json.loads(data.joinpath("catalog.json").read_text()))
    add_user("dana", Role.DISPATCHER)
    return app


@pytest.fixture
def api(demo_app: Flask, login: Callable[[str], FlaskClient]) -> Callable[..., Any]:
    """Call the app as the signed-in dispatcher (a session cookie: no password hash per call)."""
    client = login("dana")

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return client.open(path, method=method, **kwargs)

    return call


def row_counts(app: Flask) -> dict[str, int]:
    """Rows per table, every table of both metadatas."""
    with app.extensions[SESSIONS_KEY]() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """VALID with the field at ``path`` replaced by ``value``."""
    body = json.loads(json.dumps(VALID))
    target = body
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return body


FIELDS = [
    ("requester", "name"),
    ("requester", "email"),
    ("requester", "phone"),
    ("site", "address"),
    ("site", "latitude"),
    ("site", "access_notes"),
    ("site", "contact_name"),
    ("customer_name",),
    ("catalog_code",),
    ("title",),
    ("description",),
    ("impact",),
    ("window_start",),
    ("window_end",),
    ("service_date",),
]


def _assert_refused_cleanly(
    app: Flask, response: Any, before: dict[str, int], probe: str = ""
) -> None:
    assert response.status_code < 500, (probe, response.get_data(as_text=True)[:500])
    assert "Traceback" not in response.get_data(as_text=True), probe
    if response.status_code != 201:
        assert response.status_code >= 400, probe
        assert response.mimetype == "application/problem+json", probe
        assert row_counts(app) == before, f"a refused request wrote something: {probe}"


def test_hostile_values_in_every_intake_field_are_refused_cleanly(
    demo_app: Flask, api: Callable[..., Any]
) -> None:
    """Each hostile value in each field: 201 or a 4xx problem, and a 4xx writes nothing."""
    for field in FIELDS:
        for value in HOSTILE:
            before = row_counts(demo_app)
            response = api("POST", "/api/v1/requests", json=_with(field, value))
            _assert_refused_cleanly(demo_app, response, before, f"{field}={str(value)[:40]!r}")


def test_form_refuses_hostile_values_cleanly(
    demo_app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    """The web form with a hostile value in each field answers a page (200/422), never 5xx."""
    client = login("dana")
    form = {
        "requester_name": "Kari Nordmann",
        "latitude": "59.33",
        "longitude": "18.06",
        "catalog_code": "BOILER-SVC",
        "impact": "high",
        "urgency": "medium",
    }
    for field in [*form, "address", "description", "window_start", "service_date", "title"]:
        for value in ("\x00", "x" * 100_000, "0001-01-01T00:00:00+01:00", str(2**63)):
            before = row_counts(demo_app)
            token = csrf_token(client, "/requests/new")
            response = client.post(
                "/requests/new", data={**form, field: value, "csrf_token": token}
            )
            assert response.status_code in (302, 422), (field, response.status_code)
            if response.status_code == 422:
                assert row_counts(demo_app) == before, field


def test_cross_site_form_post_with_the_session_cookie_writes_nothing(
    demo_app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    """A forged form post (the cookie, no CSRF token) is refused and leaves every table as is."""
    client = login("dana")
    before = row_counts(demo_app)
    response = client.post(
        "/requests/new",
        data={
            "requester_name": "Mallory",
            "latitude": "59",
            "longitude": "18",
            "catalog_code": "BOILER-SVC",
            "impact": "high",
            "urgency": "high",
        },
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert 400 <= response.status_code < 500
    assert row_counts(demo_app) == before


def test_intake_still_answers_201_after_a_colliding_import_is_refused(
    demo_app: Flask, api: Callable[..., Any]
) -> None:
    """A day whose job ids look like intake's next references is refused; intake keeps working."""
    first = api("POST", "/api/v1/requests", json=VALID)
    assert first.status_code == 201
    reference = first.json["reference"]  # SR-<year>-<number>
    prefix, year, number = reference.split("-")
    upcoming = [
        f"{prefix}-{year}-{int(number) + 1:0{len(number)}d}-1",
        f"{year}-{int(number) + 2:0{len(number)}d}",
    ]
    day = json.loads(resources.files("dispatch").joinpath("data/demo-day.json").read_text())
    day["date"] = "2027-01-05"
    day["jobs"] = day["jobs"][:2]
    for job, colliding in zip(day["jobs"], upcoming, strict=True):
        job["id"] = colliding
    before = row_counts(demo_app)
    with (
        demo_app.extensions[SESSIONS_KEY].begin() as session,
        pytest.raises(ScenarioError) as refused,
    ):
        import_scenario(session, day)
    assert all(colliding in " ".join(refused.value.problems) for colliding in upcoming), upcoming
    assert row_counts(demo_app) == before

    for _ in range(3):
        assert api("POST", "/api/v1/requests", json=VALID).status_code == 201


def test_deeply_nested_and_oversized_bodies_get_400_and_413(
    demo_app: Flask, api: Callable[..., Any]
) -> None:
    """100,000 brackets are a 400, not a RecursionError; a body over the limit is a 413."""
    before = row_counts(demo_app)
    nested = api("POST", "/api/v1/requests", data="[" * 100_000, content_type="application/json")
    assert nested.status_code == 400 and nested.mimetype == "application/problem+json"
    huge = api(
        "POST",
        "/api/v1/requests",
        data=json.dumps({**VALID, "description": "x" * 5_000_000}),
        content_type="application/json",
    )
    assert huge.status_code == 413 and huge.mimetype == "application/problem+json"
    assert row_counts(demo_app) == before


HOSTILE_PATHS = [
    "/api/mobile/v1/me/route?date=0001-01-01",
    "/api/mobile/v1/me/route?date=%00",
    "/api/mobile/v1/me/route?date=" + "9" * 5000,
    "/day/9999-12-31",
    "/day/%00",
    "/day/" + "1" * 5000,
    "/requests/%00",
    "/requests/" + "R" * 5000,
]


def test_hostile_paths_and_queries_never_answer_5xx(
    demo_app: Flask, api: Callable[..., Any]
) -> None:
    """Odd dates, NUL bytes and very long path segments answer 4xx or a page, never 5xx."""
    for path in HOSTILE_PATHS:
        assert api("GET", path).status_code < 500, path


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=50),
    st.sampled_from([v for v in HOSTILE if not (isinstance(v, str) and len(v) > 1000)]),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    replacements=st.lists(st.tuples(st.sampled_from(FIELDS), json_values), min_size=1, max_size=4)
)
def test_random_mutations_of_a_valid_request_never_fail_or_half_write(
    demo_app: Flask, api: Callable[..., Any], replacements: list[tuple[tuple[str, ...], Any]]
) -> None:
    """Any mix of wrong types and hostile values: 201 or a clean 4xx that wrote nothing."""
    body = json.loads(json.dumps(VALID))
    for path, value in replacements:
        target = body
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target.get(key), dict) else {}
        target[path[-1]] = value
    before = row_counts(demo_app)
    response = api("POST", "/api/v1/requests", json=body)
    _assert_refused_cleanly(demo_app, response, before)

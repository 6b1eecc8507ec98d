"""GET /api/v1/kpis: the figures of dispatch.kpis as JSON, for dispatchers only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dispatch.enums import Role
from mobile_api.http import SESSIONS_KEY
from tests.dispatch.test_kpis import build_day


@pytest.fixture
def dispatcher(
    app: Flask,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> FlaskClient:
    with app.extensions[SESSIONS_KEY]() as session:
        build_day(session, monkeypatch)
    add_user("dana", Role.DISPATCHER)
    return login("dana")


def test_figures_of_a_range(dispatcher: FlaskClient) -> None:
    response = dispatcher.get("/api/v1/kpis?from=2026-11-24&to=2026-11-25")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["from"], body["to"], body["timezone"]) == (
        "2026-11-24",
        "2026-11-25",
        "Europe/Oslo",
    )
    assert [d["day"] for d in body["days"]] == ["2026-11-24", "2026-11-25"]
    first_day = body["days"][0]
    assert first_day["resolution_sla"] == {"met": 1, "total": 1, "rate": 1.0}
    assert first_day["travel_per_job_minutes"] == 50
    total = body["total"]
    assert total["first_time_fix"] == {"met": 2, "total": 3, "rate": 0.6667}
    assert total["resolution_sla"]["rate"] == 0.5
    assert body["backlog"] == {"0-1d": 0, "1-3d": 0, "3-7d": 1, ">7d": 0}
    technicians = {t["code"]: t for t in body["technicians"]}
    assert technicians["T-01"]["utilization"] == 0.3125
    assert technicians["T-01"]["on_time_arrival"]["rate"] == 0.5
    assert body["satisfaction"] is None


def test_one_technician(dispatcher: FlaskClient) -> None:
    body = dispatcher.get("/api/v1/kpis?from=2026-11-24&to=2026-11-24&technician=T-02").get_json()

    assert body["technician"] == "T-02"
    assert [t["code"] for t in body["technicians"]] == ["T-02"]
    assert body["total"]["median_resolve_minutes"] == 480
    assert body["total"]["resolution_sla"] == {"met": 0, "total": 0, "rate": None}


def test_unknown_technician_is_404(dispatcher: FlaskClient) -> None:
    response = dispatcher.get("/api/v1/kpis?from=2026-11-24&to=2026-11-24&technician=T-99")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "T-99" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=2026-11-24", "from"),
        ("from=2026-11-24", "to"),
        ("from=24.11.2026&to=2026-11-24", "from"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-11-24&to=2026-11-24T00:00", "to"),
        ("from=2026-11-25&to=2026-11-24", "to"),
        ("from=2025-11-23&to=2026-11-24", "to"),  # 367 days
        ("from=2026-11-24&to=2026-11-24&technician=", "technician"),
        ("from=2026-11-24&to=2026-11-24&colour=red", "colour"),
    ],
)
def test_bad_query_is_422(dispatcher: FlaskClient, query: str, field: str) -> None:
    response = dispatcher.get(f"/api/v1/kpis?{query}")

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [error["field"] for error in response.get_json()["errors"]] == [field]


def test_a_whole_leap_year_is_allowed(dispatcher: FlaskClient) -> None:
    response = dispatcher.get("/api/v1/kpis?from=2028-01-01&to=2028-12-31")

    assert response.status_code == 200
    assert len(response.get_json()["days"]) == 366


def test_dispatchers_only(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    add_user("tom", Role.TECHNICIAN)

    assert app.test_client().get("/api/v1/kpis?from=2026-11-24&to=2026-11-24").status_code == 401
    assert login("tom").get("/api/v1/kpis?from=2026-11-24&to=2026-11-24").status_code == 403

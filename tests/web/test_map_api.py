"""The board's and the map's endpoints: GeoJSON and timelines of a plan, for dispatchers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask import Flask
from flask.testing import FlaskClient

from dispatch.enums import Role
from tests.web.test_plans_api import body, day, dispatcher, problem, propose, published_day

__all__ = ["day", "dispatcher"]  # fixtures used here

URL = "/api/v1/plans"


def test_nothing_published_is_a_404_then_the_board_comes_with_its_version(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    for view in ("board", "map"):
        missing = problem(dispatcher.get(f"{URL}/{day.isoformat()}/{view}"), 404)
        assert "nothing is published for 2026-11-24" in missing["detail"]
    published_day(app, day)

    response = dispatcher.get(f"{URL}/{day.isoformat()}/board")

    assert response.status_code == 200 and response.headers["ETag"] == '"1"'
    board = body(response)
    assert board["version"] == 1 and board["timezone"] == "Europe/Oslo"
    plan = body(dispatcher.get(f"{URL}/{day.isoformat()}"))["document"]
    rows = {row["code"]: row for row in board["technicians"]}
    for route in plan["routes"]:
        items = rows[route["technician"]]["items"]
        planned = [s["id"] for s in route["stops"] if s["type"] == "job"]
        assert [i["reference"] for i in items if i["kind"] == "job"] == planned
        for item in items:
            start = datetime.fromisoformat(item["start"])
            assert item["start"].endswith("+01:00") and start.date() == day
    assert {i["reference"] for i in board["unassigned"]} == {u["id"] for u in plan["unassigned"]}
    assert all(item["reason"] for item in board["unassigned"])


def test_the_map_is_geojson_of_the_published_plan_or_of_a_proposal(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    published_day(app, day)
    proposal = propose(app, day)

    current = dispatcher.get(f"{URL}/{day.isoformat()}/map")
    proposed = dispatcher.get(f"{URL}/{day.isoformat()}/map?plan={proposal}")

    assert current.status_code == 200 and current.mimetype == "application/geo+json"
    assert current.headers["ETag"] == '"1"'
    assert proposed.status_code == 200 and proposed.mimetype == "application/geo+json"
    assert "ETag" not in proposed.headers  # a proposal has no version yet
    document = body(dispatcher.get(f"{URL}/{day.isoformat()}/proposals/{proposal}"))["document"]
    features = body(proposed)["features"]
    placed = {
        f["properties"]["reference"]: f["properties"]["technician"]
        for f in features
        if f["properties"]["kind"] == "job"
    }
    assert placed == {
        **{
            s["id"]: r["technician"]
            for r in document["routes"]
            for s in r["stops"]
            if s["type"] == "job"
        },
        **{u["id"]: None for u in document["unassigned"]},
    }
    kinds = {f["properties"]["kind"] for f in body(current)["features"]}
    assert kinds == {"route", "job", "warehouse"}


def test_bad_days_and_plans_are_refused_with_problems(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    published_day(app, day)
    proposal = propose(app, day)

    for view in ("board", "map"):
        assert (
            "is not a date" in problem(dispatcher.get(f"{URL}/2026-02-30/{view}"), 404)["detail"]
        )
    for asked in ("abc", "-1", "1e3", "\u00b2", "", "9" * 12):
        refused = problem(dispatcher.get(f"{URL}/{day.isoformat()}/map?plan={asked}"), 422)
        assert refused["errors"][0]["field"] == "plan"
    problem(dispatcher.get(f"{URL}/{day.isoformat()}/map?plan=99999"), 404)
    problem(dispatcher.get(f"{URL}/2026-11-25/map?plan={proposal}"), 404)
    shown = dispatcher.get(f"/map/{day.isoformat()}?plan={proposal}")
    assert f"/map?plan={proposal}" in shown.text and f"Proposal {proposal}" in shown.text
    assert dispatcher.get(f"/map/{day.isoformat()}?plan=abc").status_code == 404


def test_only_dispatchers_may_read_the_board_and_the_map(
    app: Flask,
    day: date,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    published_day(app, day)
    add_user("tess", Role.TECHNICIAN)
    technician = login("tess")
    anonymous = app.test_client()

    for view in ("board", "map"):
        assert technician.get(f"{URL}/{day.isoformat()}/{view}").status_code == 403
        problem(anonymous.get(f"{URL}/{day.isoformat()}/{view}"), 401)

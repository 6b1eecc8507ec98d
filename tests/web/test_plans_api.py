"""The plans API: the published plan with its ETag, proposals, publish, discard and edits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from dispatch.enums import Role
from dispatch.models import Job
from dispatch.planning.edits import unassign
from dispatch.planning.problem import build_problem
from dispatch.planning.proposals import new_plan, published_version
from dispatch.planning.publish import publish
from dispatch.stock import waiting_for_stock
from inventory import ledger, service
from inventory.models import LocationKind, StockLocation
from mobile_api.http import SESSIONS_KEY
from optimizer import SolveParams, solve
from tests.dispatch.test_edits import movable, routes
from tests.dispatch.test_planning_problem import import_day, load_day

URL = "/api/v1/plans"


@pytest.fixture
def day(app: Flask) -> date:
    """oslo-5x30, imported and not yet planned."""
    with app.extensions[SESSIONS_KEY]() as session:
        return import_day(session, load_day("oslo-5x30"))


@pytest.fixture
def dispatcher(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("dana", Role.DISPATCHER)
    return login("dana")


@pytest.fixture
def other_dispatcher(
    add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> FlaskClient:
    add_user("dirk", Role.DISPATCHER)
    return login("dirk")


def sessions(app: Flask) -> Session:
    session: Session = app.extensions[SESSIONS_KEY]()
    return session


def propose(app: Flask, day: date) -> int:
    """A proposal on the day's current published plan; its id."""
    with sessions(app) as session:
        problem = build_problem(session, day)
        solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
        plan = new_plan(session, day, problem, solution, reason="test", created_by=None)
        session.commit()
        return plan.id


def published_day(app: Flask, day: date) -> tuple[str, str, str, int]:
    """Publish a plan for the day (version 1); a job another technician has room for."""
    plan_id = propose(app, day)
    with sessions(app) as session:
        publish(session, plan_id, user_id=None)
        session.commit()
        return movable(session, day)


def body(response: TestResponse) -> dict[str, Any]:
    found = response.get_json()
    assert isinstance(found, dict), response.get_data(as_text=True)
    return found


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer with ``status``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    found = body(response)
    assert found["status"] == status
    return found


def edit(client: FlaskClient, day: date, version: str | None, **fields: Any) -> TestResponse:
    headers = {} if version is None else {"If-Match": version}
    return client.post(f"{URL}/{day.isoformat()}/edits", json=fields, headers=headers)


def test_the_published_plan_comes_with_its_version_as_etag(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    missing = problem(dispatcher.get(f"{URL}/{day.isoformat()}"), 404)
    assert missing["version"] == 0 and 'If-Match: "0"' in missing["detail"]
    published_day(app, day)

    response = dispatcher.get(f"{URL}/{day.isoformat()}")

    assert response.status_code == 200 and response.headers["ETag"] == '"1"'
    found = body(response)
    assert found["version"] == 1 and found["document"]["format"] == "fieldops-plan/1"
    assert found["unassigned"] == found["document"]["unassigned"]
    assert set(found["summary"]) >= {"score", "travel_minutes", "late_minutes", "served"}


def test_the_published_plan_names_the_jobs_waiting_for_stock(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    """Vans found empty after the plan was built: jobs stay routed, waiting for parts."""
    plan_id = propose(app, day)
    with sessions(app) as session:
        for van in session.scalars(
            select(StockLocation).where(StockLocation.kind == LocationKind.VAN)
        ):
            ledger.count(
                session,
                van.code,
                [(sku, 0) for sku in service.on_hand(van)],
                actor=ledger.Actor(None, "test"),
                reason="van found empty",
            )
        publish(session, plan_id, user_id=None)
        session.commit()
        expected = waiting_for_stock(session, day)

    found = body(dispatcher.get(f"{URL}/{day.isoformat()}"))

    assert expected, "the emptied van leaves some routed job short"
    assert found["waiting_for_stock"] == [
        {"job": reference, "parts": parts} for reference, parts in expected.items()
    ]


def test_only_dispatchers_may_read_or_edit(
    app: Flask,
    day: date,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    add_user("rita", Role.REQUESTER)
    requester = login("rita")
    assert requester.get(f"{URL}/{day.isoformat()}").status_code == 403
    assert edit(requester, day, '"0"', action="unpin", job="J-0001").status_code == 403
    anonymous = app.test_client()
    problem(anonymous.get(f"{URL}/{day.isoformat()}"), 401)


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "2026W482", "yesterday"])
def test_a_bad_date_is_a_404_problem(dispatcher: FlaskClient, text: str) -> None:
    assert "is not a date" in problem(dispatcher.get(f"{URL}/{text}"), 404)["detail"]
    problem(dispatcher.post(f"{URL}/{text}/edits", json={}, headers={"If-Match": '"0"'}), 404)


def test_etag_round_trip_and_a_second_dispatcher_on_the_same_version_gets_409(
    app: Flask, day: date, dispatcher: FlaskClient, other_dispatcher: FlaskClient
) -> None:
    job, _, second, _ = published_day(app, day)
    etag = dispatcher.get(f"{URL}/{day.isoformat()}").headers["ETag"]

    first = edit(dispatcher, day, etag, action="unassign", job=job)
    rival = edit(other_dispatcher, day, etag, action="assign", job=job, technician=second)

    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    assert body(first)["version"] == 2 and body(first)["diff"]["removed"] == [job]
    stale = problem(rival, 409)
    assert (stale["current_version"], stale["expected"]) == (2, 1)
    assert "version 2, not 1" in stale["detail"]
    assert dispatcher.get(f"{URL}/{day.isoformat()}").headers["ETag"] == '"2"'
    again = edit(other_dispatcher, day, '"2"', action="assign", job=job, technician=second)
    assert again.status_code == 200 and again.headers["ETag"] == '"3"'


def test_an_edit_without_if_match_is_428_and_a_malformed_one_400(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    job, _, _, _ = published_day(app, day)
    assert (
        "If-Match" in problem(edit(dispatcher, day, None, action="unpin", job=job), 428)["detail"]
    )
    for header in ("*", "1", 'W/"1"', '"1", "2"'):
        problem(edit(dispatcher, day, header, action="unpin", job=job), 400)
    assert dispatcher.get(f"{URL}/{day.isoformat()}").headers["ETag"] == '"1"'


def test_a_hard_rule_is_refused_with_the_reasons_and_changes_nothing(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    published_day(app, day)
    with sessions(app) as session:
        problem_day = build_problem(session, day)
        job, unable = next(
            (j.id, t.id)
            for j in problem_day.jobs
            for t in problem_day.technicians
            if any(j.id in jobs for jobs in routes(session, day).values())
            and not j.skills <= t.skills
        )

    refused = problem(edit(dispatcher, day, '"1"', action="move", job=job, technician=unable), 422)

    assert refused["title"] == "Edit refused"
    (error,) = refused["errors"]
    assert (error["cause"], error["technician"], error["stop"]) == ("skills", unable, job)
    assert dispatcher.get(f"{URL}/{day.isoformat()}").headers["ETag"] == '"1"'


def test_lateness_is_allowed_with_a_warning(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    job, first, _, _ = published_day(app, day)
    with sessions(app) as session:
        was_at = routes(session, day)[first].index(job)
    assert edit(dispatcher, day, '"1"', action="unassign", job=job).status_code == 200
    with sessions(app) as session:
        row = session.scalar(select(Job).where(Job.reference == job))
        assert row is not None
        row.sla_due = datetime.combine(day, time(7), tzinfo=UTC)
        session.commit()

    response = edit(
        dispatcher, day, '"2"', action="assign", job=job, technician=first, position=was_at
    )

    assert response.status_code == 200, response.json
    (warning,) = body(response)["warnings"]
    assert (warning["cause"], warning["technician"], warning["stop"]) == ("late", first, job)


def test_pin_and_unpin_move_the_version_on(app: Flask, day: date, dispatcher: FlaskClient) -> None:
    job, _, second, _ = published_day(app, day)
    pinned = edit(dispatcher, day, '"1"', action="pin", job=job, technician=second)
    assert pinned.status_code == 200 and pinned.headers["ETag"] == '"2"'
    assert body(pinned)["diff"]["moved"][0]["to"] == second
    lifted = edit(dispatcher, day, '"2"', action="unpin", job=job)
    assert lifted.status_code == 200 and lifted.headers["ETag"] == '"3"'


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"action": "swap", "job": "J-0001"}, "action"),
        ({"action": "move", "job": "J-0001", "technician": "T-01", "colour": "red"}, "colour"),
        ({"action": "move", "job": "J-0001", "technician": "T-01", "position": "2"}, "position"),
        ({"action": "move", "job": "J-0001", "technician": "T-01", "position": -1}, "position"),
        ({"action": "move", "job": ""}, "job"),
        ({"action": "assign", "job": "J-0001"}, "technician"),
        ({"action": "unassign", "job": "J-0001", "technician": "T-01"}, "technician"),
        ({"action": "unpin", "job": "J-0001", "position": 0}, "position"),
    ],
)
def test_a_malformed_edit_is_a_422_naming_the_field(
    app: Flask, day: date, dispatcher: FlaskClient, fields: dict[str, Any], field: str
) -> None:
    invalid = problem(edit(dispatcher, day, '"0"', **fields), 422)
    assert invalid["title"] == "Invalid edit"
    assert field in [error["field"] for error in invalid["errors"]]


def test_bodies_that_are_not_json_objects_are_refused(day: date, dispatcher: FlaskClient) -> None:
    url, version = f"{URL}/{day.isoformat()}/edits", {"If-Match": '"0"'}
    problem(dispatcher.post(url, json=["unpin"], headers=version), 400)
    problem(dispatcher.post(url, data="{", content_type="application/json", headers=version), 400)
    problem(dispatcher.post(url, data={"action": "unpin"}, headers=version), 415)
    cross_site = {**version, "Origin": "https://evil.example"}
    problem(dispatcher.post(url, json={"action": "unpin", "job": "J"}, headers=cross_site), 403)


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"action": "unassign", "job": "J-9999"}, "unknown_job"),
        ({"action": "assign", "job": "J-0001", "technician": "T-99"}, "unknown_technician"),
    ],
)
def test_unknown_jobs_and_technicians_are_a_422(
    day: date, dispatcher: FlaskClient, fields: dict[str, Any], cause: str
) -> None:
    refused = problem(edit(dispatcher, day, '"0"', **fields), 422)
    assert [error["cause"] for error in refused["errors"]] == [cause]


def test_an_edit_on_a_day_with_no_service_day_is_a_422(dispatcher: FlaskClient) -> None:
    refused = problem(edit(dispatcher, date(2030, 1, 2), '"0"', action="unpin", job="J"), 422)
    assert refused["title"] == "Day cannot be planned"
    assert "no service day on 2030-01-02" in refused["errors"][0]["message"]


def test_an_edit_before_the_first_publish_starts_from_an_empty_plan(
    day: date, dispatcher: FlaskClient
) -> None:
    response = edit(dispatcher, day, '"0"', action="assign", job="J-0001", technician="T-02")
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"1"' and body(response)["diff"]["added"] == ["J-0001"]


def test_proposals_are_listed_published_once_and_stale_after(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    first, second = propose(app, day), propose(app, day)
    listed = body(dispatcher.get(f"{URL}/{day.isoformat()}/proposals"))
    assert [p["id"] for p in listed["proposals"]] == [second, first]
    assert all(not p["stale"] and p["base_version"] == 0 for p in listed["proposals"])
    assert "document" not in listed["proposals"][0]
    assert set(listed["proposals"][0]["diff"]) == {
        "added",
        "removed",
        "moved",
        "resequenced",
        "deltas",
    }

    done = dispatcher.post(f"{URL}/{day.isoformat()}/proposals/{first}/publish", json={})
    assert done.status_code == 200 and done.headers["ETag"] == '"1"'

    one = body(dispatcher.get(f"{URL}/{day.isoformat()}/proposals/{second}"))
    assert one["stale"] and one["document"]["format"] == "fieldops-plan/1"
    stale = problem(
        dispatcher.post(f"{URL}/{day.isoformat()}/proposals/{second}/publish", json={}), 409
    )
    assert stale["current_version"] == 1
    closed = problem(
        dispatcher.post(f"{URL}/{day.isoformat()}/proposals/{first}/publish", json={}), 409
    )
    assert closed["plan_status"] == "published"
    discarded = dispatcher.post(f"{URL}/{day.isoformat()}/proposals/{second}/discard", json={})
    assert body(discarded) == {"plan_id": second, "status": "discarded"}
    problem(dispatcher.post(f"{URL}/{day.isoformat()}/proposals/{second}/discard", json={}), 409)
    assert body(dispatcher.get(f"{URL}/{day.isoformat()}/proposals"))["proposals"] == []


def test_a_proposal_built_before_an_edit_cannot_be_published(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    job, _, _, _ = published_day(app, day)
    proposal = propose(app, day)
    assert edit(dispatcher, day, '"1"', action="unassign", job=job).status_code == 200
    refused = problem(
        dispatcher.post(f"{URL}/{day.isoformat()}/proposals/{proposal}/publish", json={}), 409
    )
    assert (refused["current_version"], refused["expected"]) == (2, 1)


def test_plans_of_other_days_and_unknown_ids_are_404(
    app: Flask, day: date, dispatcher: FlaskClient
) -> None:
    plan_id = propose(app, day)
    problem(dispatcher.get(f"{URL}/2026-11-25/proposals/{plan_id}"), 404)
    problem(dispatcher.get(f"{URL}/{day.isoformat()}/proposals/99999"), 404)
    problem(dispatcher.post(f"{URL}/{day.isoformat()}/proposals/99999/publish", json={}), 404)


def test_a_job_taken_off_the_plan_gets_ranked_offers_with_real_times(
    app: Flask,
    dispatcher: FlaskClient,
    day: date,
) -> None:
    job, technician, _, _ = published_day(app, day)
    with app.extensions[SESSIONS_KEY]() as session:
        unassign(session, day, job, expected_version=published_version(session, day), user_id=None)
        session.commit()

    answer = dispatcher.get(f"{URL}/{day.isoformat()}/candidates/{job}")

    assert answer.status_code == 200, answer.get_data(as_text=True)
    found = answer.get_json()
    offers = found["candidates"]
    assert offers and found["reason"] is None
    assert technician in {o["technician"] for o in offers}  # it fitted there before
    changes = [o["score_change"] for o in offers]
    assert changes == sorted(changes)
    for offer in offers:
        arrival, start = (datetime.fromisoformat(offer[k]) for k in ("arrival", "start"))
        assert arrival.tzinfo is not None and arrival <= start
        assert abs((start.date() - day).days) <= 1


def test_a_planned_or_unknown_job_is_404_and_technicians_may_not_ask(
    app: Flask,
    dispatcher: FlaskClient,
    day: date,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    job, technician, _, _ = published_day(app, day)

    planned = dispatcher.get(f"{URL}/{day.isoformat()}/candidates/{job}")
    unknown = dispatcher.get(f"{URL}/{day.isoformat()}/candidates/J-9999")

    assert planned.status_code == 404 and technician in planned.get_json()["detail"]
    assert unknown.status_code == 404
    add_user("tess", Role.TECHNICIAN)
    assert login("tess").get(f"{URL}/{day.isoformat()}/candidates/{job}").status_code == 403

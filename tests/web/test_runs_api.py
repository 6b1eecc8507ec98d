"""The runs API: queue an optimization (202), 409 naming the active run, read it, cancel it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dispatch.enums import Role, RunState
from dispatch.models import PlanRun
from dispatch.planning import record_progress, start_run
from mobile_api.http import SESSIONS_KEY
from tests.dispatch.test_planning_problem import import_day, load_day

URL = "/api/v1/plans"


@pytest.fixture
def day(app: Flask) -> date:
    with app.extensions[SESSIONS_KEY]() as session:
        return import_day(session, load_day("oslo-5x30"))


@pytest.fixture
def dispatcher(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("dana", Role.DISPATCHER)
    return login("dana")


def ask(client: FlaskClient, day: date, body: Any) -> Any:
    return client.post(f"{URL}/{day.isoformat()}/runs", json=body)


def test_a_run_is_queued_with_202_and_a_second_one_gets_409_naming_it(
    app: Flask, dispatcher: FlaskClient, day: date
) -> None:
    first = ask(dispatcher, day, {"time_limit_s": 5})
    assert first.status_code == 202, first.get_data(as_text=True)
    run = first.get_json()
    assert run["state"] == "queued" and run["time_limit_s"] == 5
    assert first.headers["Location"] == f"{URL}/{day.isoformat()}/runs/{run['id']}"

    second = ask(dispatcher, day, {})

    assert second.status_code == 409
    assert second.mimetype == "application/problem+json"
    assert second.get_json()["run_id"] == run["id"] and second.get_json()["state"] == "queued"
    with app.extensions[SESSIONS_KEY]() as session:
        assert session.query(PlanRun).count() == 1


def test_a_run_shows_its_progress_and_can_be_cancelled_once(
    app: Flask, dispatcher: FlaskClient, day: date
) -> None:
    run_id = ask(dispatcher, day, {"time_limit_s": 5}).get_json()["id"]
    with app.extensions[SESSIONS_KEY].begin() as session:
        start_run(session, run_id)
        record_progress(session, run_id, score=123.5, served=20, elapsed_s=1.5)

    shown = dispatcher.get(f"{URL}/{day.isoformat()}/runs/{run_id}").get_json()
    assert (shown["state"], shown["best_score"], shown["served"]) == ("running", 123.5, 20)

    cancelled = dispatcher.post(f"{URL}/{day.isoformat()}/runs/{run_id}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = dispatcher.post(f"{URL}/{day.isoformat()}/runs/{run_id}/cancel", json={})
    assert again.status_code == 409 and again.get_json()["state"] == RunState.CANCELLED.value
    # The day is free again.
    assert ask(dispatcher, day, {}).status_code == 202


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([], 400),
        ({"time_limit_s": 0}, 422),
        ({"time_limit_s": "30"}, 422),
        ({"time_limit_s": 10**6}, 422),
        ({"replan": True, "colour": "red"}, 422),
    ],
)
def test_a_bad_run_request_is_a_problem_and_queues_nothing(
    app: Flask, dispatcher: FlaskClient, day: date, body: Any, status: int
) -> None:
    answer = ask(dispatcher, day, body)

    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    with app.extensions[SESSIONS_KEY]() as session:
        assert session.query(PlanRun).count() == 0


def test_runs_of_another_day_and_bad_dates_are_404(dispatcher: FlaskClient, day: date) -> None:
    run_id = ask(dispatcher, day, {}).get_json()["id"]

    assert dispatcher.get(f"{URL}/2026-11-25/runs/{run_id}").status_code == 404
    assert dispatcher.post(f"{URL}/2026-02-30/runs", json={}).status_code == 404
    assert dispatcher.get(f"{URL}/{day.isoformat()}/runs/999").status_code == 404


def test_only_dispatchers_may_start_runs(
    add_user: Callable[..., int], login: Callable[[str], FlaskClient], day: date
) -> None:
    add_user("tess", Role.TECHNICIAN)
    technician = login("tess")

    assert ask(technician, day, {}).status_code == 403

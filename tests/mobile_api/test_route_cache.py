"""My route as kept by each server process: read again whenever anything on it changes,
wherever the change was made; estimates follow the clock and the technician's reports."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from dispatch.field_models import ReportOutcome, StatusReport
from dispatch.fieldwork import add_note
from dispatch.models import CatalogItem, Job, Technician, User
from dispatch.technician_day import route_of
from mobile_api.http import SESSIONS_KEY
from mobile_api.route_cache import ROUTE_CACHE_KEY, ROUTE_CACHE_SECONDS, RouteCache
from tests.mobile_api.conftest import Phone
from tests.mobile_api.test_field_api import status


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's route cache, on a clock the test moves."""
    clock = Clock()
    app.extensions[ROUTE_CACHE_KEY] = RouteCache(timer=clock)
    return clock


def route(phone: Phone) -> dict[str, Any]:
    response = phone.get(f"/me/route?date={phone.day.isoformat()}")
    assert response.status_code == 200, response.get_json()
    found: dict[str, Any] = response.get_json()
    return found


def first_card(phone: Phone) -> dict[str, Any]:
    return next(stop["job"] for stop in route(phone)["stops"] if stop["type"] == "job")


def test_a_change_committed_elsewhere_shows_on_the_next_read(
    app: Flask, phone: Phone, clock: Clock
) -> None:
    """A note written by another process (its own session, not this request's) is on the
    very next route read: the feed entry it wrote moved the route's version."""
    reference = first_card(phone)["reference"]
    with app.extensions[SESSIONS_KEY].begin() as session:
        job = session.scalars(select(Job).where(Job.reference == reference)).one()
        add_note(
            session,
            job,
            note_id=uuid.uuid4(),
            author_user_id=session.scalars(select(User.id).where(User.username == "tina")).one(),
            body="the dog is friendly",
            device_time=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        )
    assert [note["body"] for note in first_card(phone)["notes"]] == ["the dog is friendly"]


def test_a_site_or_request_edited_elsewhere_shows_on_the_next_read(
    app: Flask, phone: Phone, clock: Clock
) -> None:
    reference = first_card(phone)["reference"]
    with app.extensions[SESSIONS_KEY].begin() as session:
        job = session.scalars(select(Job).where(Job.reference == reference)).one()
        job.site.access_notes = "key under the mat"
        job.request.description = "the boiler knocks"
    card = first_card(phone)
    assert card["site"]["access_notes"] == "key under the mat"
    assert card["description"] == "the boiler knocks"


def test_a_checklist_edited_in_the_catalog_shows_once_the_kept_route_expires(
    app: Flask, phone: Phone, clock: Clock
) -> None:
    """The catalog is not followed by the version: an edited checklist shows within
    ROUTE_CACHE_SECONDS. (Giving the request another catalog item shows at once.)"""
    reference = first_card(phone)["reference"]
    with app.extensions[SESSIONS_KEY].begin() as session:
        job = session.scalars(select(Job).where(Job.reference == reference)).one()
        job.request.catalog_item = CatalogItem(
            code="BOILER-SVC",
            name="Boiler service",
            category="heating",
            default_duration_min=60,
            checklist=["Check the flue"],
        )
    assert first_card(phone)["checklist"] == ["Check the flue"]
    with app.extensions[SESSIONS_KEY].begin() as session:
        item = session.scalars(select(CatalogItem).where(CatalogItem.code == "BOILER-SVC"))
        item.one().checklist = ["Check the flue", "Clean the burner"]
    assert first_card(phone)["checklist"] == ["Check the flue"]
    clock.now += ROUTE_CACHE_SECONDS + 1
    assert first_card(phone)["checklist"] == ["Check the flue", "Clean the burner"]


def test_a_status_report_moves_the_route_and_its_version(
    app: Flask, phone: Phone, clock: Clock
) -> None:
    reference = first_card(phone)["reference"]
    status(phone, reference, "on_site", 0)
    assert first_card(phone)["status"] == "on_site"


def test_an_account_that_is_no_technician_is_refused(
    app: Flask, phone: Phone, clock: Clock
) -> None:
    route(phone)  # kept
    with app.extensions[SESSIONS_KEY].begin() as session:
        tina = session.scalars(select(Technician).where(Technician.code == phone.technician))
        tina.one().user_id = None
    response = phone.get(f"/me/route?date={phone.day.isoformat()}")
    assert response.status_code == 403
    assert response.get_json()["detail"] == "this account is not linked to a technician"


def test_estimates_follow_the_latest_report_and_never_lie_in_the_past(
    app: Flask, phone: Phone, day: date
) -> None:
    """On site 25 minutes after the planned arrival at the first job: every later stop is
    expected 25 minutes late; answered later than that, the next stop is expected at the
    moment of answering and the ones after it as much later as the plan has them, while
    the reached one keeps its estimate."""
    stops = [stop for stop in route(phone)["stops"] if stop["type"] == "job"]
    assert len(stops) >= 2
    first = datetime.fromisoformat(stops[0]["arrival"])
    late = first + timedelta(minutes=25)
    status(phone, stops[0]["job"]["reference"], "on_site", 0, device_time=late.isoformat())
    with app.extensions[SESSIONS_KEY]() as session:
        assert session.scalar(
            select(StatusReport.outcome).where(StatusReport.device_time == late)
        ) == (ReportOutcome.APPLIED)
        tina = session.scalars(select(Technician).where(Technician.code == phone.technician))
        snapshot = route_of(session, tina.one(), day)
    early = snapshot.at(first - timedelta(hours=1))
    jobs = [stop for stop in early["stops"] if stop["type"] == "job"]
    for stop in jobs[1:]:
        planned = datetime.fromisoformat(stop["arrival"])
        assert datetime.fromisoformat(stop["eta"]) == planned + timedelta(minutes=25)
    now = datetime.fromisoformat(jobs[-1]["eta"]) + timedelta(hours=1)
    answered = snapshot.at(now)
    reached, *waiting = [stop for stop in answered["stops"] if stop["type"] == "job"]
    assert datetime.fromisoformat(reached["eta"]) == late
    # The stops after the reached job (a warehouse call among them, perhaps): the first is
    # expected now, the others as much later as the plan has them.
    after = answered["stops"][answered["stops"].index(reached) + 1 :]
    timed = [stop for stop in after if stop["type"] != "break"]
    assert datetime.fromisoformat(timed[0]["eta"]) == now
    for before, following in itertools.pairwise(timed):
        planned_gap = datetime.fromisoformat(following["arrival"]) - datetime.fromisoformat(
            before["arrival"]
        )
        gap = datetime.fromisoformat(following["eta"]) - datetime.fromisoformat(before["eta"])
        assert gap == planned_gap
    assert reached["eta"][19:] == waiting[0]["eta"][19:]  # both in the day's own offset

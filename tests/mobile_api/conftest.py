"""Fixtures for the technician API: a published day and technicians signed in on phones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from dispatch.accounts import link_technician
from dispatch.enums import Role
from dispatch.models import Job, Technician
from dispatch.planning.publish import publish
from mobile_api.http import SESSIONS_KEY
from tests.dispatch.test_planning_problem import import_day, load_day
from tests.web.conftest import PASSWORD, add_user, app, login, make_app, nominatim
from tests.web.test_plans_api import propose

__all__ = ["add_user", "app", "login", "make_app", "nominatim"]  # fixtures used from here

API = "/api/mobile/v1"


@dataclass
class Phone:
    """A technician's phone: a client that sends their credentials with every request."""

    client: FlaskClient
    headers: dict[str, str]
    technician: str
    day: date

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(API + path, headers=self.headers, **kwargs)

    def send(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, **kwargs: Any
    ) -> TestResponse:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.open(API + path, method=method, json=body, headers=headers, **kwargs)

    def post(self, path: str, body: Any, *, key: str | None = None) -> TestResponse:
        return self.send("POST", path, body, key=key)

    def jobs(self) -> list[str]:
        """My jobs on the day, in route order."""
        route = self.get(f"/me/route?date={self.day.isoformat()}").get_json()
        return [stop["job"]["reference"] for stop in route["stops"] if stop["type"] == "job"]


@pytest.fixture
def day(app: Flask) -> date:
    """oslo-5x30 imported and a plan published (version 1)."""
    with app.extensions[SESSIONS_KEY]() as session:
        day = import_day(session, load_day("oslo-5x30"))
    plan_id = propose(app, day)
    with app.extensions[SESSIONS_KEY]() as session:
        publish(session, plan_id, user_id=None)
        session.commit()
    return day


@pytest.fixture
def phone_of(app: Flask, add_user: Callable[..., int], day: date) -> Callable[[str, str], Phone]:
    """A phone signed in as a new technician account linked to technician ``code``."""

    def make(username: str, code: str) -> Phone:
        add_user(username, Role.TECHNICIAN)
        with app.extensions[SESSIONS_KEY].begin() as session:
            link_technician(session, username, code)
        client = app.test_client()
        return Phone(client, bearer(client, username), code, day)

    return make


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    """Sign a new phone in as ``username``: the header its requests carry."""
    response = client.post(
        f"{API}/auth/login",
        json={"username": username, "password": PASSWORD, "device": f"{username}'s phone"},
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def busiest(app: Flask, day: date, rank: int = 0) -> str:
    """The code of the technician with the ``rank``-th most jobs on the day."""
    with app.extensions[SESSIONS_KEY]() as session:
        counts: dict[str, int] = {}
        for code in session.scalars(
            select(Technician.code)
            .join(Job, Job.technician_id == Technician.id)
            .where(Job.service_date == day)
        ):
            counts[code] = counts.get(code, 0) + 1
    return sorted(counts, key=lambda code: (-counts[code], code))[rank]


@pytest.fixture
def phone(phone_of: Callable[[str, str], Phone], app: Flask, day: date) -> Phone:
    """Tina's phone; she is the technician with the most jobs on the day."""
    return phone_of("tina", busiest(app, day))


@pytest.fixture
def other_phone(phone_of: Callable[[str, str], Phone], app: Flask, day: date) -> Phone:
    """Otto's phone; another technician with jobs on the day."""
    return phone_of("otto", busiest(app, day, 1))


def device_time(minutes: int = 0) -> str:
    """A phone's clock reading, ``minutes`` after a fixed morning, with its offset."""
    return (datetime(2026, 11, 24, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def new_id() -> str:
    return str(uuid.uuid4())

"""Fixtures for the Flask app: an app on the test database and signed-in clients.

CSRF protection stays on in tests: form posts carry the token read from the page
(:func:`csrf_token`), as a browser's would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dispatch.enums import Role
from dispatch.users import create_user
from mobile_api.events import BROKER_KEY
from mobile_api.http import ENGINE_KEY, SESSIONS_KEY
from tests.fake_nominatim import FakeNominatim
from web.app import create_app

PASSWORD = "correct horse battery"
#: Long enough for the app's minimum (32 bytes); tests never use the instance folder's key.
SECRET_KEY = "test-secret-key-of-at-least-32-bytes"
ADDRESS = "Storgata 1, Oslo"
PLACE = (59.9127, 10.7461, "Storgata 1, 0155 Oslo, Norway")


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    """A local stand-in for Nominatim knowing one address, so no test touches the network."""
    with FakeNominatim({ADDRESS: PLACE}) as fake:
        yield fake


@pytest.fixture
def make_app(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nominatim: FakeNominatim
) -> Iterator[Callable[..., Flask]]:
    """Builds the application on the test database with some settings changed.

    Its instance folder is a temporary directory; engines are disposed at the end.
    """
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    built: list[Flask] = []

    def make(**settings: Any) -> Flask:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "SECRET_KEY": SECRET_KEY,
                "GEOCODER_URL": nominatim.url,
                "GEOCODER_MIN_DELAY_S": 0,
                **settings,
            }
        )
        built.append(app)
        return app

    yield make
    for app in built:
        if BROKER_KEY in app.extensions:  # an event stream was opened
            app.extensions[BROKER_KEY].stop()
        app.extensions[ENGINE_KEY].dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The application on a fresh database, its instance folder in a temporary directory."""
    return make_app()


@pytest.fixture
def add_user(app: Flask) -> Callable[..., int]:
    """Create a user with the given roles; returns the user id."""

    def add(username: str, *roles: Role) -> int:
        with app.extensions[SESSIONS_KEY].begin() as session:
            return create_user(
                session,
                username=username,
                password=PASSWORD,
                roles=list(roles),
                full_name=username,
            ).id

    return add


@pytest.fixture
def login(app: Flask) -> Callable[[str], FlaskClient]:
    """A client signed in as ``username`` (created beforehand with ``add_user``)."""

    def sign_in(username: str) -> FlaskClient:
        client = app.test_client()
        response = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302, response.data
        return client

    return sign_in


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    """The form token ``page`` hands this client, read from its hidden field."""
    html = client.get(page).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, f"{page} has no CSRF field"
    return found.group(1)

"""Fixtures for the Flask app: an app on the test database and signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dispatch.enums import Role
from dispatch.users import create_user
from tests.fake_nominatim import FakeNominatim
from web.app import SESSIONS_KEY, create_app

PASSWORD = "correct horse battery"
ADDRESS = "Storgata 1, Oslo"
PLACE = (59.9127, 10.7461, "Storgata 1, 0155 Oslo, Norway")


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    """A local stand-in for Nominatim knowing one address, so no test touches the network."""
    with FakeNominatim({ADDRESS: PLACE}) as fake:
        yield fake


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nominatim: FakeNominatim
) -> Iterator[Flask]:
    """The application on a fresh database, its instance folder in a temporary directory."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "GEOCODER_URL": nominatim.url,
            "GEOCODER_MIN_DELAY_S": 0,
        }
    )
    yield app
    app.extensions["fieldops.engine"].dispose()


@pytest.fixture
def add_user(app: Flask) -> Callable[..., int]:
    """Create a user with the given roles; returns the user id."""

    def add(username: str, *roles: Role) -> int:
        with app.extensions[SESSIONS_KEY].begin() as session:
            return create_user(
                session, username=username, password=PASSWORD, roles=list(roles), full_name=username
            ).id

    return add


@pytest.fixture
def login(app: Flask) -> Callable[[str], FlaskClient]:
    """A client signed in as ``username`` (created beforehand with ``add_user``)."""

    def sign_in(username: str) -> FlaskClient:
        client = app.test_client()
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.data
        return client

    return sign_in

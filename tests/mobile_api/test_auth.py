"""Phones sign in with bearer tokens: login, refresh rotation and reuse, expiry, sign-out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.test import TestResponse

import dispatch.devices
from dispatch.accounts import link_technician
from dispatch.db import utcnow
from dispatch.devices import RefreshTokenReused, device_user, refresh
from dispatch.enums import Role
from dispatch.field_models import Device, DeviceToken, TokenKind
from dispatch.models import User
from dispatch.users import change_password
from mobile_api.http import SESSIONS_KEY
from tests.helpers import make_technician, race
from tests.web.conftest import PASSWORD, csrf_token

API = "/api/mobile/v1"
#: A view that needs the technician role: it answers 200 to a linked technician's token.
PROTECTED = f"{API}/me/route?date=2026-01-05"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(
    client: FlaskClient, username: str = "tina", password: str = PASSWORD, device: str = "Pixel 7"
) -> TestResponse:
    return client.post(
        f"{API}/auth/login", json={"username": username, "password": password, "device": device}
    )


def tokens(client: FlaskClient, username: str = "tina", device: str = "Pixel 7") -> dict[str, Any]:
    response = sign_in(client, username, device=device)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def exchange(client: FlaskClient, refresh_token: str) -> TestResponse:
    return client.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})


def challenge(response: TestResponse) -> WWWAuthenticate:
    found = WWWAuthenticate.from_header(response.headers["WWW-Authenticate"])
    assert found is not None
    return found


def assert_refused_token(response: TestResponse) -> None:
    """401 problem+json with a Bearer challenge naming the token invalid."""
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert challenge(response).type == "bearer"
    assert challenge(response).parameters.get("error") == "invalid_token"


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def move_clock(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    """Make the token service's clock run ``by`` ahead of the real one."""
    monkeypatch.setattr(dispatch.devices, "utcnow", lambda: utcnow() + by)


@pytest.fixture
def tina(app: Flask, add_user: Callable[..., int]) -> int:
    """A technician account linked to technician T-01; returns the user id."""
    user_id = add_user("tina", Role.TECHNICIAN)
    with app.extensions[SESSIONS_KEY].begin() as session:
        make_technician(session, "T-01")
        link_technician(session, "tina", "T-01")
    return user_id


def devices_in(app: Flask) -> list[Device]:
    with app.extensions[SESSIONS_KEY]() as session:
        return list(session.scalars(select(Device).order_by(Device.id)))


def test_login_gives_tokens_that_open_the_technician_api(app: Flask, tina: int) -> None:
    """The pair comes back once, unstored; the access token opens a technician's view."""
    client = app.test_client()
    response = sign_in(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] != body["refresh_token"]

    assert (
        app.test_client().get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200
    )
    anonymous = app.test_client().get(PROTECTED)
    assert_problem(anonymous, 401)
    assert challenge(anonymous).type == "bearer"
    assert challenge(anonymous).parameters == {"realm": "fieldops"}

    [device] = devices_in(app)
    assert (device.user_id, device.name, device.revoked_at) == (tina, "Pixel 7", None)
    with app.extensions[SESSIONS_KEY]() as session:
        stored = {t.token_hash: t.kind for t in session.scalars(select(DeviceToken))}
    assert stored == {
        hashlib.sha256(body["access_token"].encode()).hexdigest(): TokenKind.ACCESS,
        hashlib.sha256(body["refresh_token"].encode()).hexdigest(): TokenKind.REFRESH,
    }


def test_a_token_that_does_not_work_is_401_not_anonymous(app: Flask, tina: int) -> None:
    """A made-up bearer token is refused as such, on the phone API and the rest of the API."""
    client = app.test_client()
    assert_refused_token(client.get(PROTECTED, headers=bearer("made-up")))
    assert_refused_token(client.get("/api/v1/devices", headers=bearer("made-up")))
    assert_refused_token(client.get(PROTECTED, headers={"Authorization": "Bearer"}))


def test_wrong_password_is_401_and_counts_with_the_web_login(
    make_app: Callable[..., Flask], add_user: Callable[..., int]
) -> None:
    """One throttle for both doors: a failure at either counts, and both then say 429."""
    throttled = make_app(LOGIN_FAILURES_PER_ACCOUNT="2/minute")
    add_user("tina", Role.TECHNICIAN)
    browser = throttled.test_client()
    phone = throttled.test_client()

    wrong = sign_in(phone, password="not the password")
    assert "wrong username or password" in assert_problem(wrong, 401)["detail"]
    assert challenge(wrong).type == "bearer"
    on_the_web = browser.post(
        "/login",
        data={"username": "tina", "password": "nope", "csrf_token": csrf_token(browser)},
    )
    assert on_the_web.status_code == 401

    refused = sign_in(phone)  # the right password, but the account has no tries left
    assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    on_the_web = browser.post(
        "/login",
        data={"username": "tina", "password": PASSWORD, "csrf_token": csrf_token(browser)},
    )
    assert on_the_web.status_code == 429
    assert devices_in(throttled) == []


def test_refresh_rotates_the_pair(app: Flask, tina: int) -> None:
    """Each exchange gives a new pair; the old access token stops, the new tokens work."""
    client = app.test_client()
    first = tokens(client)
    response = exchange(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.get_json()
    assert second["token_type"] == "Bearer"
    assert {second["access_token"], second["refresh_token"]}.isdisjoint(first.values())

    assert_refused_token(client.get(PROTECTED, headers=bearer(first["access_token"])))
    assert client.get(PROTECTED, headers=bearer(second["access_token"])).status_code == 200
    third = exchange(client, second["refresh_token"])
    assert third.status_code == 200
    assert (
        client.get(PROTECTED, headers=bearer(third.get_json()["access_token"])).status_code == 200
    )
    [device] = devices_in(app)
    assert device.revoked_at is None


def test_a_reused_refresh_token_revokes_the_device(app: Flask, tina: int) -> None:
    """Presenting a spent refresh token again: 401, and every token of the device stops."""
    client = app.test_client()
    first = tokens(client)
    second = exchange(client, first["refresh_token"]).get_json()
    other_phone = tokens(client, device="Tablet")

    reused = exchange(client, first["refresh_token"])
    assert "used before" in assert_problem(reused, 401)["detail"]
    assert_refused_token(client.get(PROTECTED, headers=bearer(second["access_token"])))
    assert_problem(exchange(client, second["refresh_token"]), 401)

    revoked, untouched = devices_in(app)
    assert revoked.revoked_at is not None
    assert revoked.revoked_reason == "refresh token reused"
    assert untouched.revoked_at is None
    assert client.get(PROTECTED, headers=bearer(other_phone["access_token"])).status_code == 200


@pytest.mark.postgresql_only
def test_two_exchanges_of_one_refresh_token_at_once_revoke_the_device(
    app: Flask, tina: int
) -> None:
    """Of two concurrent exchanges one wins and the other finds the token spent: a reuse."""
    pair = tokens(app.test_client())

    def exchange_in(session: Any) -> str:
        try:
            refresh(session, pair["refresh_token"])
        except RefreshTokenReused:
            return "reused"
        return "exchanged"

    results = race(app.extensions[SESSIONS_KEY], 2, exchange_in, hold_s=0.3)
    assert sorted(results) == ["exchanged", "reused"]
    [device] = devices_in(app)
    assert device.revoked_reason == "refresh token reused"
    with app.extensions[SESSIONS_KEY]() as session:
        assert session.scalars(select(DeviceToken)).all() == []


def test_refresh_with_an_unknown_or_access_token_is_401(app: Flask, tina: int) -> None:
    client = app.test_client()
    pair = tokens(client)
    assert_problem(exchange(client, "made-up"), 401)
    assert_problem(exchange(client, pair["access_token"]), 401)
    assert client.get(PROTECTED, headers=bearer(pair["access_token"])).status_code == 200


def test_an_expired_access_token_is_401_and_the_refresh_token_renews_it(
    app: Flask, tina: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    pair = tokens(client)
    move_clock(monkeypatch, timedelta(minutes=15, seconds=1))
    assert_refused_token(client.get(PROTECTED, headers=bearer(pair["access_token"])))
    renewed = exchange(client, pair["refresh_token"])
    assert renewed.status_code == 200
    assert (
        client.get(PROTECTED, headers=bearer(renewed.get_json()["access_token"])).status_code
        == 200
    )


def test_an_expired_refresh_token_is_401(
    app: Flask, tina: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    pair = tokens(client)
    move_clock(monkeypatch, timedelta(days=30, seconds=1))
    assert "expired" in assert_problem(exchange(client, pair["refresh_token"]), 401)["detail"]


def test_a_deactivated_account_loses_its_phones(app: Flask, tina: int) -> None:
    client = app.test_client()
    pair = tokens(client)
    with app.extensions[SESSIONS_KEY].begin() as session:
        session.get_one(User, tina).active = False
    assert_refused_token(client.get(PROTECTED, headers=bearer(pair["access_token"])))
    assert_problem(exchange(client, pair["refresh_token"]), 401)


def test_changing_the_password_signs_every_phone_out(app: Flask, tina: int) -> None:
    client = app.test_client()
    pair = tokens(client)
    with app.extensions[SESSIONS_KEY].begin() as session:
        change_password(
            session,
            session.get_one(User, tina),
            current_password=PASSWORD,
            new_password="a brand new passphrase",
        )
    assert_refused_token(client.get(PROTECTED, headers=bearer(pair["access_token"])))
    assert_problem(exchange(client, pair["refresh_token"]), 401)
    assert [device.revoked_reason for device in devices_in(app)] == ["password changed"]


def test_only_technicians_and_admins_sign_in_a_phone(
    app: Flask, add_user: Callable[..., int]
) -> None:
    add_user("rita", Role.REQUESTER)
    add_user("dora", Role.DISPATCHER)
    add_user("ada", Role.ADMIN)
    client = app.test_client()
    for username in ("rita", "dora"):
        assert "technicians" in assert_problem(sign_in(client, username), 403)["detail"]
    assert devices_in(app) == []
    assert sign_in(client, "ada").status_code == 200


def test_logout_revokes_the_device(app: Flask, tina: int) -> None:
    client = app.test_client()
    pair = tokens(client)
    odd = client.post(
        f"{API}/auth/logout", json={"all": True}, headers=bearer(pair["access_token"])
    )
    assert_problem(odd, 422)
    response = client.post(f"{API}/auth/logout", json={}, headers=bearer(pair["access_token"]))
    assert response.status_code == 204
    assert_refused_token(client.get(PROTECTED, headers=bearer(pair["access_token"])))
    assert_problem(exchange(client, pair["refresh_token"]), 401)
    [device] = devices_in(app)
    assert device.revoked_reason == "signed out"

    assert_refused_token(
        client.post(f"{API}/auth/logout", json={}, headers=bearer(pair["access_token"]))
    )
    anonymous = client.post(f"{API}/auth/logout", json={})
    assert_problem(anonymous, 401)
    assert challenge(anonymous).type == "bearer"


def test_a_browser_session_does_not_sign_out_a_phone(
    app: Flask, tina: int, login: Callable[[str], FlaskClient]
) -> None:
    browser = login("tina")
    assert_problem(browser.post(f"{API}/auth/logout", json={}), 400)


def test_last_seen_is_written_at_most_once_a_minute(
    app: Flask, tina: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests mark the device seen, but a busy phone does not write on every request."""
    client = app.test_client()
    pair = tokens(client)
    assert devices_in(app)[0].last_seen_at is None

    def last_seen_after_request() -> datetime | None:
        client.get(PROTECTED, headers=bearer(pair["access_token"]))
        return devices_in(app)[0].last_seen_at

    seen = last_seen_after_request()
    assert seen is not None
    assert last_seen_after_request() == seen
    move_clock(monkeypatch, timedelta(minutes=1))
    later = last_seen_after_request()
    assert later is not None and later >= seen + timedelta(minutes=1)


def test_device_user_needs_an_access_token(app: Flask, tina: int) -> None:
    pair = tokens(app.test_client())
    with app.extensions[SESSIONS_KEY]() as session:
        assert device_user(session, pair["refresh_token"]) is None
        found = device_user(session, pair["access_token"])
        assert found is not None and found.id == tina
        assert found.username == "tina" and found.roles == {Role.TECHNICIAN}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "tina", "password": PASSWORD}, "device"),
        ({"username": "tina", "password": PASSWORD, "device": "x", "remember": True}, "remember"),
        ({"username": "tina", "password": PASSWORD, "device": "x" * 101}, "device"),
        ({"username": "tina", "password": PASSWORD, "device": "   "}, "device"),
        ({"username": "tina", "password": PASSWORD, "device": "Pixel\x007"}, "device"),
        ({"username": "tina", "password": PASSWORD, "device": "Pixel\n7"}, "device"),
        ({"username": "tina", "password": "p" * 1025, "device": "x"}, "password"),
        ({"username": 7, "password": PASSWORD, "device": "x"}, "username"),
        ({"username": "ti\x00na", "password": PASSWORD, "device": "x"}, "username"),
        ({"username": "", "password": PASSWORD, "device": "x"}, "username"),
        ({"username": "tina", "password": None, "device": "x"}, "password"),
    ],
)
def test_bad_login_bodies_are_422(app: Flask, tina: int, body: dict[str, Any], field: str) -> None:
    response = app.test_client().post(f"{API}/auth/login", json=body)
    problem = assert_problem(response, 422)
    assert field in {error["field"] for error in problem["errors"]}
    assert devices_in(app) == []


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": 7}, {"refresh_token": ""}, {"refresh_token": "x" * 201}]
)
def test_bad_refresh_bodies_are_422(app: Flask, body: dict[str, Any]) -> None:
    response = app.test_client().post(f"{API}/auth/refresh", json=body)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "refresh_token"


def test_login_takes_json_only(app: Flask, tina: int) -> None:
    response = app.test_client().post(
        f"{API}/auth/login", data={"username": "tina", "password": PASSWORD, "device": "x"}
    )
    assert_problem(response, 415)
    assert devices_in(app) == []

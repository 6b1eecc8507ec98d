"""Dispatchers list signed-in phones and revoke one: its tokens stop at once, others go on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from dispatch.enums import Role
from tests.web.conftest import PASSWORD

API = "/api/mobile/v1"
DEVICES = "/api/v1/devices"


def sign_in_phone(client: FlaskClient, username: str, device: str) -> dict[str, Any]:
    response = client.post(
        f"{API}/auth/login", json={"username": username, "password": PASSWORD, "device": device}
    )
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def token_works(client: FlaskClient, access_token: str) -> bool:
    """Whether the bearer token signs in (a technician's read of the devices list is 403)."""
    status = client.get(DEVICES, headers={"Authorization": f"Bearer {access_token}"}).status_code
    assert status in (401, 403)
    return status == 403


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    return body


@pytest.fixture
def people(add_user: Callable[..., int]) -> dict[str, int]:
    """A dispatcher, two technicians, a requester; user ids by name."""
    return {
        "dora": add_user("dora", Role.DISPATCHER),
        "tina": add_user("tina", Role.TECHNICIAN),
        "otto": add_user("otto", Role.TECHNICIAN),
        "rita": add_user("rita", Role.REQUESTER),
    }


def test_dispatchers_list_devices_newest_first(
    app: Flask, people: dict[str, int], login: Callable[[str], FlaskClient]
) -> None:
    phone = app.test_client()
    sign_in_phone(phone, "tina", "Pixel 7")
    sign_in_phone(phone, "otto", "Galaxy S23")
    response = login("dora").get(DEVICES)
    assert response.status_code == 200
    devices = response.get_json()["devices"]
    assert [(d["name"], d["user"]["username"]) for d in devices] == [
        ("Galaxy S23", "otto"),
        ("Pixel 7", "tina"),
    ]
    first = devices[0]
    assert set(first) == {
        "id",
        "name",
        "user",
        "created_at",
        "last_seen_at",
        "revoked_at",
        "revoked_reason",
    }
    assert first["user"] == {"id": people["otto"], "username": "otto", "full_name": "otto"}
    assert datetime.fromisoformat(first["created_at"]).utcoffset() is not None
    assert (first["last_seen_at"], first["revoked_at"], first["revoked_reason"]) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize("username", ["tina", "rita"])
def test_technicians_and_requesters_may_not_list_or_revoke(
    app: Flask, people: dict[str, int], login: Callable[[str], FlaskClient], username: str
) -> None:
    phone = sign_in_phone(app.test_client(), "tina", "Pixel 7")
    client = login(username)
    problem(client.get(DEVICES), 403)
    problem(client.post(f"{DEVICES}/1/revoke", json={}), 403)
    assert token_works(app.test_client(), phone["access_token"])


def test_anonymous_clients_get_401(app: Flask) -> None:
    client = app.test_client()
    response = client.get(DEVICES)
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    problem(client.post(f"{DEVICES}/1/revoke", json={}), 401)


def test_a_revoked_device_stops_at_once_and_the_others_go_on(
    app: Flask, people: dict[str, int], login: Callable[[str], FlaskClient]
) -> None:
    phone = app.test_client()
    lost = sign_in_phone(phone, "tina", "Pixel 7")
    spare = sign_in_phone(phone, "tina", "Spare phone")
    assert token_works(phone, lost["access_token"])
    dispatcher = login("dora")
    lost_id = next(
        d["id"] for d in dispatcher.get(DEVICES).get_json()["devices"] if d["name"] == "Pixel 7"
    )

    response = dispatcher.post(f"{DEVICES}/{lost_id}/revoke", json={"reason": "  left on a bus "})
    assert response.status_code == 200
    revoked = response.get_json()
    assert (revoked["id"], revoked["name"], revoked["user"]["username"]) == (
        lost_id,
        "Pixel 7",
        "tina",
    )
    assert revoked["revoked_reason"] == "left on a bus"
    assert datetime.fromisoformat(revoked["revoked_at"]).utcoffset() is not None

    assert not token_works(phone, lost["access_token"])
    refreshed = phone.post(f"{API}/auth/refresh", json={"refresh_token": lost["refresh_token"]})
    problem(refreshed, 401)
    assert token_works(phone, spare["access_token"])
    again = phone.post(f"{API}/auth/refresh", json={"refresh_token": spare["refresh_token"]})
    assert again.status_code == 200


def test_revoking_twice_keeps_the_first_reason(
    app: Flask, people: dict[str, int], login: Callable[[str], FlaskClient]
) -> None:
    sign_in_phone(app.test_client(), "tina", "Pixel 7")
    dispatcher = login("dora")
    [device] = dispatcher.get(DEVICES).get_json()["devices"]
    first = dispatcher.post(f"{DEVICES}/{device['id']}/revoke", json={})
    assert first.get_json()["revoked_reason"] == "revoked by dora"
    second = dispatcher.post(f"{DEVICES}/{device['id']}/revoke", json={"reason": "again"})
    assert second.status_code == 200
    assert second.get_json()["revoked_reason"] == "revoked by dora"
    assert second.get_json()["revoked_at"] == first.get_json()["revoked_at"]


def test_revoking_an_unknown_device_is_404(
    people: dict[str, int], login: Callable[[str], FlaskClient]
) -> None:
    problem(login("dora").post(f"{DEVICES}/999/revoke", json={}), 404)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([], 400),
        ("stolen", 400),
        ({"reason": ""}, 422),
        ({"reason": "   "}, 422),
        ({"reason": 5}, 422),
        ({"reason": "x" * 201}, 422),
        ({"reason": "lost\x00"}, 422),
        ({"why": "lost"}, 422),
    ],
)
def test_bad_revocations_are_refused_and_change_nothing(
    app: Flask,
    people: dict[str, int],
    login: Callable[[str], FlaskClient],
    body: Any,
    status: int,
) -> None:
    phone = sign_in_phone(app.test_client(), "tina", "Pixel 7")
    dispatcher = login("dora")
    [device] = dispatcher.get(DEVICES).get_json()["devices"]
    refused = problem(dispatcher.post(f"{DEVICES}/{device['id']}/revoke", json=body), status)
    if status == 422:
        assert refused["errors"]
    assert token_works(app.test_client(), phone["access_token"])
    [device] = dispatcher.get(DEVICES).get_json()["devices"]
    assert device["revoked_at"] is None


def test_revocation_takes_json_only(
    app: Flask, people: dict[str, int], login: Callable[[str], FlaskClient]
) -> None:
    sign_in_phone(app.test_client(), "tina", "Pixel 7")
    dispatcher = login("dora")
    [device] = dispatcher.get(DEVICES).get_json()["devices"]
    problem(dispatcher.post(f"{DEVICES}/{device['id']}/revoke", data={"reason": "x"}), 415)

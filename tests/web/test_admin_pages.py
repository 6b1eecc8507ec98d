"""The administrators' pages: users and roles, technicians' weeks and days off, the catalog."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from dispatch.enums import Role
from dispatch.models import CatalogItem, DayOff, Event, Technician, User, WorkingHours
from mobile_api.http import SESSIONS_KEY
from tests.helpers import make_technician
from tests.web.conftest import csrf_token


@pytest.fixture
def admin(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    """A client signed in as the administrator ``ada``."""
    add_user("ada", Role.ADMIN)
    return login("ada")


@pytest.fixture
def technician(app: Flask) -> str:
    """The technician T-01 (08:00-16:00 Monday to Friday); its code."""
    with app.extensions[SESSIONS_KEY].begin() as session:
        return make_technician(session, "T-01").code


def post(client: FlaskClient, url: str, data: dict[str, Any], page: str) -> Any:
    """Post ``data`` with the CSRF token of ``page``, as its form would."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


def read(app: Flask, query: Callable[[Any], Any]) -> Any:
    with app.extensions[SESSIONS_KEY]() as session:
        return query(session)


def user_named(app: Flask, username: str) -> User | None:
    return read(app, lambda s: s.scalar(select(User).where(User.username == username)))


def test_only_administrators_open_the_pages(
    app: Flask, technician: str, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """A dispatcher gets 403 on every admin page and form; a stranger is sent to sign in."""
    add_user("dora", Role.DISPATCHER)
    dispatcher = login("dora")
    pages = ["/admin/users", "/admin/users/new", "/admin/technicians", "/admin/catalog"]
    for page in [*pages, f"/admin/technicians/{technician}"]:
        assert dispatcher.get(page).status_code == 403, page
    refused = post(dispatcher, "/admin/users/new", {"username": "x"}, "/account/password")
    assert refused.status_code == 403
    assert app.test_client().get("/admin/users").status_code == 302


def test_an_admin_creates_a_user_and_a_bad_form_writes_nothing(
    app: Flask, admin: FlaskClient
) -> None:
    """A valid form creates the account with its roles (PRG), logged as the admin's change; a
    short password re-renders with the reason by the field, 422, and no account."""
    form = {
        "username": "bo",
        "full_name": "Bo Berg",
        "email": "bo@example.org",
        "password": "short",
        "roles": ["dispatcher", "warehouse"],
    }
    refused = post(admin, "/admin/users/new", form, "/admin/users/new")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="password-error"' in page and "at least 8 characters" in page
    assert 'value="Bo Berg"' in page
    assert user_named(app, "bo") is None

    created = post(
        admin, "/admin/users/new", {**form, "password": "long enough now"}, "/admin/users/new"
    )
    assert created.status_code == 302
    stored = user_named(app, "bo")
    assert stored is not None and stored.email == "bo@example.org"
    assert {r.role for r in stored.roles} == {Role.DISPATCHER, Role.WAREHOUSE}
    actors = read(
        app,
        lambda s: set(
            s.scalars(
                select(Event.actor).where(
                    Event.entity_type == "users", Event.entity_id == str(stored.id)
                )
            )
        ),
    )
    assert actors == {"ada"}
    assert "Created bo (dispatcher, warehouse)." in admin.get(created.location).get_data(
        as_text=True
    )
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert '<div class="table-scroll">' in listing and "Bo Berg" in listing


def test_an_admin_cannot_drop_their_own_admin_role(app: Flask, admin: FlaskClient) -> None:
    """Saving one's roles without admin is refused with the reason, and nothing changes."""
    me = user_named(app, "ada")
    assert me is not None
    page = f"/admin/users/{me.id}"

    refused = post(admin, f"{page}/roles", {"roles": ["dispatcher"]}, page)

    assert refused.status_code == 422
    assert "cannot remove your own admin role" in refused.get_data(as_text=True)
    again = user_named(app, "ada")
    assert again is not None and {r.role for r in again.roles} == {Role.ADMIN}


def test_an_admin_links_and_unlinks_a_technician_account(
    app: Flask, admin: FlaskClient, technician: str, add_user: Callable[..., int]
) -> None:
    """Linking needs the technician role; linked, the list shows the technician; unlinking
    ends it."""
    tove = add_user("tove", Role.TECHNICIAN)
    rita = add_user("rita", Role.REQUESTER)

    def linked_to() -> int | None:
        return read(
            app,
            lambda s: s.scalar(select(Technician.user_id).where(Technician.code == technician)),
        )

    refused = post(
        admin, f"/admin/users/{rita}/technician", {"technician": technician}, "/admin/users"
    )
    assert refused.status_code == 422
    assert "does not have the technician role" in refused.get_data(as_text=True)
    assert linked_to() is None

    linked = post(
        admin, f"/admin/users/{tove}/technician", {"technician": technician}, "/admin/users"
    )
    assert linked.status_code == 302 and linked_to() == tove
    assert f">{technician}</a>" in admin.get("/admin/users").get_data(as_text=True)

    unlinked = post(admin, f"/admin/users/{tove}/technician/unlink", {}, "/admin/users")
    assert unlinked.status_code == 302 and linked_to() is None


def test_working_hours_and_days_off(app: Flask, admin: FlaskClient, technician: str) -> None:
    """A shift ending before it starts is refused whole (422); a good week replaces the old
    one; a day off is added and removed, a malformed day refused."""
    page = f"/admin/technicians/{technician}"
    week = {f"start-{d}": "08:00" for d in range(5)} | {f"end-{d}": "16:00" for d in range(5)}

    refused = post(admin, f"{page}/hours", {**week, "start-1": "17:00"}, page)
    assert refused.status_code == 422
    assert "Tuesday: the shift must end after it starts" in refused.get_data(as_text=True)

    saved = post(admin, f"{page}/hours", {**week, "start-5": "09:00", "end-5": "13:00"}, page)
    assert saved.status_code == 302
    hours = read(
        app, lambda s: [(h.weekday, h.start_time) for h in s.scalars(select(WorkingHours))]
    )
    assert sorted(hours) == [*((d, time(8)) for d in range(5)), (5, time(9))]
    assert "Sat 09:00–13:00" in admin.get("/admin/technicians").get_data(as_text=True)

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()  # no service day: UTC's clock
    bad = post(admin, f"{page}/days-off", {"day": "tomorrow", "reason": "course"}, page)
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    # The week's form beside it still shows the stored hours.
    assert re.search(r'name="start-5"[^>]*value="09:00"', bad.get_data(as_text=True))
    added = post(
        admin, f"{page}/days-off", {"day": tomorrow.isoformat(), "reason": "course"}, page
    )
    assert added.status_code == 302

    def offs() -> list[tuple[date, str]]:
        return read(app, lambda s: [(o.day, o.reason) for o in s.scalars(select(DayOff))])

    assert offs() == [(tomorrow, "course")]

    removed = post(admin, f"{page}/days-off/{tomorrow.isoformat()}/remove", {}, page)
    assert removed.status_code == 302 and offs() == []


def test_catalog_upload_good_and_bad(app: Flask, admin: FlaskClient) -> None:
    """A good document loads (PRG); a bad file is refused with every problem listed and
    leaves the catalog as it was, even its valid items."""
    item = {
        "code": "BOILER-SVC",
        "name": "Boiler service",
        "category": "heating",
        "default_duration_min": 60,
        "sla": {"high": {"response_minutes": 60, "resolution_minutes": 240}},
    }
    document = {"format": "fieldops-catalog/1", "items": [item]}
    loaded = post(admin, "/admin/catalog", {"document": json.dumps(document)}, "/admin/catalog")
    assert loaded.status_code == 302
    assert "1 item(s)" in admin.get("/admin/catalog").get_data(as_text=True)

    renamed = {**item, "name": "Renamed"}
    broken = {**item, "code": "HEAT-PUMP", "default_duration_min": 0, "typical_parts": {"X": 1}}
    bad = {"format": "fieldops-catalog/1", "items": [renamed, broken]}
    refused = admin.post(
        "/admin/catalog",
        data={
            "csrf_token": csrf_token(admin, "/admin/catalog"),
            "file": (io.BytesIO(json.dumps(bad).encode()), "catalog.json"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "items.1.default_duration_min" in refused.get_data(as_text=True)
    names = read(app, lambda s: list(s.scalars(select(CatalogItem.name))))
    assert names == ["Boiler service"]

    not_json = post(admin, "/admin/catalog", {"document": "{items:"}, "/admin/catalog")
    assert not_json.status_code == 422 and "not JSON" in not_json.get_data(as_text=True)

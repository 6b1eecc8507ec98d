"""The app factory, sign-in, role checks and the error shape of JSON endpoints."""

from __future__ import annotations

import gc
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from dispatch.enums import Role
from dispatch.scenario import import_scenario
from mobile_api.http import ENGINE_KEY, SESSIONS_KEY
from tests.web.conftest import PASSWORD, csrf_token

DAY = Path(__file__).parents[1] / "data" / "fieldservice" / "oslo-5x30.json"


def _import_day(app: Flask) -> None:
    with app.extensions[SESSIONS_KEY].begin() as session:
        import_scenario(session, json.loads(DAY.read_text()))


def test_factory_reads_database_url_from_config(app: Flask, database_url: str) -> None:
    """The mapping passed to create_app wins over the environment."""
    assert app.config["DATABASE_URL"] == database_url
    assert app.testing


def test_anonymous_visitor_is_sent_to_login(app: Flask) -> None:
    """Pages need a signed-in user."""
    response = app.test_client().get("/day/2026-11-24")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_password_is_refused(app: Flask, add_user: Callable[..., int]) -> None:
    """A bad password gets 401 and no session."""
    add_user("ann", Role.DISPATCHER)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": "ann", "password": "nope-nope", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 401
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.DISPATCHER, 200), (Role.ADMIN, 200), (Role.TECHNICIAN, 403), (Role.WAREHOUSE, 403)],
)
def test_day_page_is_for_dispatchers(
    app: Flask,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
    role: Role,
    status: int,
) -> None:
    """Only dispatchers (and admins) see the day board."""
    _import_day(app)
    add_user("someone", role)
    response = login("someone").get("/day/2026-11-24")
    assert response.status_code == status
    if status == 200:
        page = response.get_data(as_text=True)
        assert "30 open jobs" in page and "5 technicians on shift" in page
        assert "J-0030" in page


def test_login_redirect_stays_on_site(app: Flask, add_user: Callable[..., int]) -> None:
    """The ``next`` parameter cannot send a user to another site."""
    add_user("ann", Role.DISPATCHER)
    client = app.test_client()
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "ann", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/"


def test_unknown_api_path_answers_problem_json(app: Flask) -> None:
    """JSON endpoints answer errors as RFC 9457 problem details, not HTML."""
    response = app.test_client().get("/api/mobile/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 404 and problem["title"] == "Not Found"


def test_my_route_needs_a_technician(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """Anonymous: 401 with a Bearer challenge; a dispatcher or unlinked technician: 403."""
    anonymous = app.test_client().get("/api/mobile/v1/me/route?date=2026-11-24")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer realm=")
    add_user("ann", Role.DISPATCHER)
    add_user("terry", Role.TECHNICIAN)
    for username in ("ann", "terry"):
        response = login(username).get("/api/mobile/v1/me/route?date=2026-11-24")
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"


def test_my_route_lists_the_technicians_jobs(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """A technician sees only jobs assigned to them on that day."""
    from dispatch.models import Job, Technician

    _import_day(app)
    user_id = add_user("sofia", Role.TECHNICIAN)
    with app.extensions[SESSIONS_KEY].begin() as session:
        technician = session.scalar(select(Technician).where(Technician.code == "T-01"))
        technician.user_id = user_id
        jobs = session.scalars(select(Job).order_by(Job.id).limit(3)).all()
        jobs[0].technician_id = jobs[2].technician_id = technician.id

    client = login("sofia")
    bad = client.get("/api/mobile/v1/me/route?date=tomorrow")
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "date"
    body = client.get("/api/mobile/v1/me/route?date=2026-11-24").get_json()
    assert body["technician"] == "T-01"
    assert [s["job"]["reference"] for s in body["stops"]] == ["J-0001", "J-0003"]
    assert [(p["sku"], p["quantity"]) for p in body["stops"][0]["job"]["parts"]] == [
        ("PIPE-CPLR-15", 1),
        ("SEAL-KIT", 1),
    ]


def test_no_free_database_connection_is_a_503_to_retry(app: Flask) -> None:
    """A pool exhausted under load answers 503 with Retry-After, not a bug's 500."""
    import sqlalchemy.exc

    def busy() -> str:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")

    app.add_url_rule("/api/v1/busy", "busy", busy)
    response = app.test_client().get("/api/v1/busy")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "5"


def test_the_wsgi_module_builds_the_app_and_freezes_what_it_loaded(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``web.wsgi:app`` is what production servers load: an app on DATABASE_URL, with the
    objects loaded at start kept out of the garbage collector's full collections."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delitem(sys.modules, "web.wsgi", raising=False)
    wsgi = importlib.import_module("web.wsgi")
    try:
        assert gc.get_freeze_count() > 0
        assert wsgi.app.config["DATABASE_URL"] == database_url
        assert wsgi.app.test_client().get("/api/mobile/v1/openapi.json").status_code == 200
    finally:
        gc.unfreeze()
        wsgi.app.extensions[ENGINE_KEY].dispose()
        sys.modules.pop("web.wsgi", None)

"""Web and session security: CSRF, Basic auth scope, throttling, sign-in sessions,
headers, secrets, request sizes, and error pages that never show a traceback.

Every test that touches the database runs on SQLite and on PostgreSQL (the ``app``
fixture is built on ``database_url``).
"""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from dispatch.db import utcnow
from dispatch.enums import Role
from dispatch.models import Event, Technician, UserSession
from dispatch.scenario import import_scenario
from dispatch.users import authenticate
from mobile_api.http import SESSIONS_KEY
from tests.web.conftest import PASSWORD, SECRET_KEY, csrf_token
from web.app import ConfigurationError, create_app
from web.cli import cli

TEMPLATES = Path(__file__).parents[2] / "web" / "templates"
DAY = Path(__file__).parents[1] / "data" / "fieldservice" / "oslo-5x30.json"
LEAKED_KEY = "f166ad7e06e2b5cc6fb140f1322af981c400a118ed1483a93a8ea04cfc33a5a3"
NEW_PASSWORD = "a brand new passphrase"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    token = b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _count(app: Flask, model: type) -> int:
    with app.extensions[SESSIONS_KEY]() as session:
        count: int = session.scalar(select(func.count()).select_from(model))
        return count


def _login(client: FlaskClient, username: str, password: str = PASSWORD, **kwargs: object) -> int:
    """Post the login form as a browser would (token included); returns the status."""
    data = {"username": username, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/login", data=data, **kwargs).status_code


def _is_signed_in(client: FlaskClient) -> bool:
    return client.get("/account/password").status_code == 200


def _is_styled_page(body: str) -> bool:
    """The site's own layout (stylesheet, header), not Werkzeug's bare page."""
    return "fieldops.css" in body and "<header>" in body and "Traceback" not in body


# --- CSRF and where HTTP Basic is accepted (defect 11) ---------------------------------


def test_cross_site_form_post_with_cookie_but_no_token_changes_nothing(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """A post carrying the session cookie but no form token gets 400 and writes nothing."""
    add_user("ann", Role.DISPATCHER)
    client = login("ann")
    sessions_before = _count(app, UserSession)
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    forged = client.post(
        "/account/password", data=form, headers={"Origin": "https://evil.example"}
    )

    assert forged.status_code == 400 and _is_styled_page(forged.get_data(as_text=True))
    assert _count(app, UserSession) == sessions_before
    assert _login(app.test_client(), "ann") == 302, "the password is unchanged"
    genuine = client.post(
        "/account/password", data={**form, "csrf_token": csrf_token(client, "/account/password")}
    )
    assert genuine.status_code == 302, "the same post with the page's token goes through"


def test_login_needs_the_form_token(app: Flask, add_user: Callable[..., int]) -> None:
    """Login CSRF: right credentials without the token sign nobody in."""
    add_user("ann", Role.DISPATCHER)
    client = app.test_client()
    response = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert response.status_code == 400
    assert not _is_signed_in(client)


def test_basic_credentials_do_not_open_pages(app: Flask, add_user: Callable[..., int]) -> None:
    """Browsers replay Basic credentials cross-site, so pages and forms ignore them."""
    add_user("ann", Role.DISPATCHER)
    client = app.test_client()
    page = client.get("/day/2026-11-24", headers=_basic("ann"))
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    form = client.post("/logout", headers=_basic("ann"))
    assert form.status_code == 400


def test_basic_credentials_work_on_the_json_api(app: Flask, add_user: Callable[..., int]) -> None:
    """Scripts and phones may send HTTP Basic to the JSON API."""
    data = json.loads(DAY.read_text())
    user_id = add_user("sofia", Role.TECHNICIAN)
    with app.extensions[SESSIONS_KEY].begin() as session:
        import_scenario(session, data)
        technician = session.scalar(select(Technician).where(Technician.code == "T-01"))
        assert technician is not None
        technician.user_id = user_id
    response = app.test_client().get(
        "/api/mobile/v1/me/route?date=2026-11-24", headers=_basic("sofia")
    )
    assert response.status_code == 200
    assert response.get_json()["technician"] == "T-01"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Origin": "https://evil.example"}, {"json": {}}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, {"json": {}}, 403),
        ({}, {"data": {"description": "form-encoded"}}, 415),
        ({}, {"data": "{}", "content_type": "text/plain"}, 415),
    ],
    ids=["foreign-origin", "sec-fetch-cross-site", "form-encoded", "text-plain"],
)
def test_cookie_signed_api_writes_from_other_sites_are_refused(
    app: Flask,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
    headers: dict[str, str],
    body: dict[str, object],
    status: int,
) -> None:
    """The API takes no form token, so it refuses what only a cross-site page would send."""
    add_user("rita", Role.REQUESTER)
    client = login("rita")
    events_before = _count(app, Event)
    response = client.post("/api/v1/requests", headers=headers, **body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert _count(app, Event) == events_before
    same_site = client.post("/api/v1/requests", json={}, headers={"Origin": "http://localhost"})
    assert same_site.status_code == 422, "a same-origin JSON post reaches validation"


# --- Throttling password guesses (defect 12) --------------------------------------------


def test_an_account_is_locked_for_a_while_after_five_failures(
    app: Flask, add_user: Callable[..., int]
) -> None:
    """The sixth try within a minute is 429 with Retry-After, even with the right password."""
    add_user("ann", Role.DISPATCHER)
    add_user("bob", Role.DISPATCHER)
    client = app.test_client()
    assert [_login(client, "ann", "wrong-guess") for _ in range(5)] == [401] * 5

    locked = client.post(
        "/login",
        data={"username": "ann", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    assert _is_styled_page(locked.get_data(as_text=True))
    assert _login(client, "bob") == 302, "other accounts are not locked"


def test_one_client_guessing_many_accounts_is_throttled(
    app: Flask, add_user: Callable[..., int]
) -> None:
    """Twenty failures from one address, across names, stop that address only."""
    add_user("ann", Role.DISPATCHER)
    guesser = {"REMOTE_ADDR": "203.0.113.7"}
    client = app.test_client()
    statuses = [_login(client, f"user{i}", environ_base=guesser) for i in range(20)]
    assert statuses == [401] * 20
    assert _login(client, "ann", environ_base=guesser) == 429
    assert _login(app.test_client(), "ann", environ_base={"REMOTE_ADDR": "198.51.100.1"}) == 302


def test_behind_a_trusted_proxy_clients_are_told_apart(
    make_app: Callable[..., Flask], add_user: Callable[..., int]
) -> None:
    """With TRUSTED_PROXIES=1 the throttle counts X-Forwarded-For, not the proxy's address."""
    add_user("ann", Role.DISPATCHER)  # through the default app, on the same database
    app = make_app(TRUSTED_PROXIES=1, LOGIN_FAILURES_PER_CLIENT="2/minute")
    client = app.test_client()
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    assert [_login(client, f"user{i}", headers=guesser) for i in range(3)] == [401, 401, 429]
    assert _login(client, "ann", headers={"X-Forwarded-For": "198.51.100.1"}) == 302


def test_limits_are_configurable(make_app: Callable[..., Flask]) -> None:
    """LOGIN_FAILURES_PER_ACCOUNT sets how many failures an account may have."""
    app = make_app(LOGIN_FAILURES_PER_ACCOUNT="2/hour")
    client = app.test_client()
    assert [_login(client, "nobody", "x") for _ in range(3)] == [401, 401, 429]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"LOGIN_FAILURES_PER_CLIENT": "lots"}, "LOGIN_FAILURES_PER_CLIENT must read like"),
        ({"RATELIMIT_STORAGE_URI": "nosuch://here"}, "RATELIMIT_STORAGE_URI"),
        ({"RATELIMIT_STRATEGY": "leaky"}, "RATELIMIT_STRATEGY is one of"),
        ({"DB_POOL_SIZE": 0}, "DB_POOL_SIZE must be a whole number from 1"),
        ({"MAP_TILE_URL": "ftp://tiles.example.org/{z}/{x}/{y}.png"}, "must be an http"),
        ({"MAP_TILE_URL": "https://tiles.example.org/tile.png"}, "must hold {z}, {x} and {y}"),
        ({"DB_MAX_OVERFLOW": "lots"}, "DB_MAX_OVERFLOW must be a whole number from 0"),
        ({"GEOCODER_MIN_DELAY_S": "abc"}, "GEOCODER_MIN_DELAY_S must be a number of seconds"),
        ({"GEOCODER_TIMEOUT_S": "-1"}, "GEOCODER_TIMEOUT_S must be a number of seconds"),
        ({"GEOCODER_TIMEOUT_S": "nan"}, "GEOCODER_TIMEOUT_S must be a number of seconds"),
        ({"AUTO_PUBLISH": "urgent"}, "FIELDOPS_AUTO_PUBLISH lists urgent"),
        ({"REPLAN_TIME_LIMIT_S": 0}, "FIELDOPS_REPLAN_TIME_LIMIT_S"),
    ],
)
def test_bad_settings_stop_the_app(
    make_app: Callable[..., Flask], settings: dict[str, str], message: str
) -> None:
    """A limit, storage or delay the app cannot use is a clear refusal at start."""
    with pytest.raises(ConfigurationError, match=message):
        make_app(**settings)


def test_basic_auth_failures_are_throttled_with_problem_json(
    app: Flask, add_user: Callable[..., int]
) -> None:
    """Wrong Basic credentials count too; the API answers 429 problem+json with Retry-After."""
    add_user("script", Role.REQUESTER)
    client = app.test_client()
    wrong = _basic("script", "wrong-guess")
    statuses = [
        client.post("/api/v1/requests", json={}, headers=wrong).status_code for _ in range(5)
    ]
    assert statuses == [401] * 5
    response = client.post("/api/v1/requests", json={}, headers=_basic("script"))
    assert response.status_code == 429 and response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the local Redis, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"fieldops-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def test_redis_storage_keeps_the_counts(make_app: Callable[..., Flask], redis_prefix: str) -> None:
    """With FIELDOPS_RATELIMIT_STORAGE_URI on Redis, counts live there and are shared by apps."""
    settings = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": redis_prefix}
    first, second = make_app(**settings), make_app(**settings)
    assert [_login(first.test_client(), "nobody", "x") for _ in range(5)] == [401] * 5
    assert _login(second.test_client(), "nobody", "x") == 429, "another process sees the count"
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{redis_prefix}*"))
    assert keys, "the counters are in Redis"


def test_unknown_and_known_names_take_as_long(app: Flask, add_user: Callable[..., int]) -> None:
    """A wrong password and an unknown name cost the same (one hash check each)."""
    add_user("ann", Role.DISPATCHER)
    known: list[float] = []
    unknown: list[float] = []
    with app.extensions[SESSIONS_KEY]() as session:
        authenticate(session, "nobody", "warm-up")  # builds the dummy hash once
        for _ in range(5):
            for name, timings in (("ann", known), ("nobody", unknown)):
                start = time.perf_counter()
                assert authenticate(session, name, "wrong-guess") is None
                timings.append(time.perf_counter() - start)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)


# --- Sign-in sessions end on logout and password change (defect 13) ---------------------


def test_a_cookie_saved_before_logout_no_longer_works(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """Logout ends the sign-in on the server, so a copied cookie is worthless."""
    add_user("ann", Role.DISPATCHER)
    client = login("ann")
    cookie = client.get_cookie("session")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie("session", cookie.value)
    assert _is_signed_in(copy)

    token = csrf_token(client, "/account/password")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302

    assert not _is_signed_in(copy)
    assert _count(app, UserSession) == 0


def test_password_change_ends_every_other_sign_in(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """The browser that changes the password stays in; every other sign-in ends."""
    add_user("ann", Role.DISPATCHER)
    here, elsewhere = login("ann"), login("ann")
    token = csrf_token(here, "/account/password")
    response = here.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert _is_signed_in(here) and not _is_signed_in(elsewhere)
    assert _login(app.test_client(), "ann") == 401
    assert _login(app.test_client(), "ann", NEW_PASSWORD) == 302


def test_wrong_current_password_changes_nothing(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """A wrong current password or a short new one is shown on the form; nothing changes."""
    add_user("ann", Role.DISPATCHER)
    client, other = login("ann"), login("ann")
    for current, new in [("wrong-guess", NEW_PASSWORD), (PASSWORD, "short")]:
        token = csrf_token(client, "/account/password")
        response = client.post(
            "/account/password",
            data={"current_password": current, "new_password": new, "csrf_token": token},
        )
        assert response.status_code == 422
    assert _is_signed_in(other)
    assert _login(app.test_client(), "ann") == 302


def test_sign_ins_expire_and_old_rows_are_pruned(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """A sign-in older than PERMANENT_SESSION_LIFETIME ends; the next sign-in deletes its row."""
    add_user("ann", Role.DISPATCHER)
    client = login("ann")
    with app.extensions[SESSIONS_KEY].begin() as session:
        for row in session.scalars(select(UserSession)):
            row.created_at = utcnow() - app.permanent_session_lifetime - timedelta(minutes=1)
    assert not _is_signed_in(client)
    login("ann")
    assert _count(app, UserSession) == 1


def test_sign_ins_stay_out_of_the_event_log(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """Session rows are not domain changes: no event, so no token hash in the log."""
    add_user("ann", Role.DISPATCHER)
    before = _count(app, Event)
    login("ann")
    assert _count(app, UserSession) == 1
    assert _count(app, Event) == before


# --- Headers (defect 14) ------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    """Pages, API answers and errors forbid framing, sniffing, inline scripts and caching."""
    add_user("ann", Role.DISPATCHER)
    client = login("ann")
    for path in ("/login", "/account/password", "/api/mobile/v1/me/route", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        scripts = directives.get("script-src", directives["default-src"])
        assert "unsafe" not in scripts, "no inline script runs, no string is evaluated"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store", path
    with client.get("/static/fieldops.css") as stylesheet:
        assert stylesheet.status_code == 200
        assert "no-store" not in stylesheet.headers.get("Cache-Control", "")


def test_templates_have_no_inline_styles_or_scripts() -> None:
    """The policy forbids inline code, so no template may rely on it: scripts come from
    files (``<script src=…>``), never from the page."""
    inline = re.compile(r"<style|<script(?![^>]*\ssrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if inline.search(path.read_text())
    ]
    assert offenders == []


# --- Secrets and file permissions (defect 15) -----------------------------------------------


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance folder of its own, with no key or database from the environment."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(folder))
    monkeypatch.delenv("FIELDOPS_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return folder


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (LEAKED_KEY, "git history"),
        (LEAKED_KEY + "\n", "git history"),
        ("short", "at least 32"),
        (12345678901234567890123456789012345, "must be text"),
    ],
    ids=["leaked", "leaked-with-newline", "short", "number"],
)
def test_unsafe_secret_keys_are_refused(instance: Path, key: object, message: str) -> None:
    """A key from the public history, shorter than 32 bytes or not text stops the app."""
    with pytest.raises(ConfigurationError, match=message):
        create_app({"SECRET_KEY": key, "DATABASE_URL": "sqlite://"})


@pytest.mark.parametrize(
    ("content", "message"), [(LEAKED_KEY, "git history"), ("0123456789abcdef", "has 16 bytes")]
)
def test_an_unsafe_key_file_is_refused_by_the_cli(
    instance: Path, content: str, message: str
) -> None:
    """The once-committed or a short key file: exit 2 with a message, no traceback."""
    instance.mkdir()
    (instance / "secret_key").write_text(content)
    result = CliRunner().invoke(cli, ["init-db"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_instance_files_are_readable_by_the_owner_only(instance: Path) -> None:
    """init-db creates the folder 0700 and the key and SQLite database (hashes) 0600."""
    result = CliRunner().invoke(cli, ["init-db"])
    assert result.exit_code == 0, result.output
    assert instance.stat().st_mode & 0o777 == 0o700
    files = {path.name: path.stat().st_mode & 0o777 for path in instance.iterdir()}
    assert files == {"secret_key": 0o600, "fieldops.sqlite3": 0o600}


def test_a_generated_key_is_long_and_kept(instance: Path) -> None:
    """Without a configured key the app makes a random one and reuses it on restart."""
    first = create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    assert first == second and len(first) >= 32 and first != SECRET_KEY


# --- Request sizes, nesting, unexpected errors (defects 3 and 4) --------------------------


@pytest.fixture
def requester(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("rita", Role.REQUESTER)
    return login("rita")


def test_deeply_nested_json_is_a_400_problem(app: Flask, requester: FlaskClient) -> None:
    """100,000 opening brackets are bad JSON (400), not a RecursionError (500)."""
    response = requester.post(
        "/api/v1/requests", data="[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_large_bodies_get_413(app: Flask, requester: FlaskClient) -> None:
    """Over the size or part limits: problem+json on the API, the styled page on forms."""
    events_before = _count(app, Event)
    big = "x" * (1024 * 1024 + 1)
    api = requester.post("/api/v1/requests", json={"description": big})
    assert api.status_code == 413 and api.mimetype == "application/problem+json"
    form = requester.post("/requests/new", data={"description": big})
    assert form.status_code == 413 and _is_styled_page(form.get_data(as_text=True))
    parts = requester.post(
        "/requests/new",
        data={f"field{i}": "x" for i in range(500)},
        content_type="multipart/form-data",
    )
    assert parts.status_code == 413
    assert _count(app, Event) == events_before


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app with two routes that raise, as a bug would."""

    def broken() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/broken", "broken", broken)
    app.add_url_rule("/api/broken", "api_broken", broken)
    return app


def test_a_bug_is_a_plain_500_and_a_logged_traceback(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Unexpected exceptions answer 500 (page or problem) and log the traceback server-side."""
    client = failing_app.test_client()
    page = client.get("/broken")
    api = client.get("/api/broken")
    assert page.status_code == 500 and _is_styled_page(page.get_data(as_text=True))
    assert api.status_code == 500 and api.mimetype == "application/problem+json"
    for response in (page, api):
        assert "secret internals" not in response.get_data(as_text=True)
    assert "secret internals" in caplog.text and "Traceback" in caplog.text


# --- Error pages and navigation (first run) ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "role", "status"),
    [
        ("get", "/no-such-page", Role.DISPATCHER, 404),
        ("get", "/logout", Role.DISPATCHER, 405),
        ("post", "/no-such-form", Role.DISPATCHER, 404),
        ("post", "/day/2026-11-24", Role.DISPATCHER, 405),
        ("get", "/day/2026-11-24", Role.TECHNICIAN, 403),
        ("post", "/logout", Role.DISPATCHER, 400),
    ],
)
def test_errors_are_pages_in_the_site_layout(
    app: Flask,
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
    method: str,
    path: str,
    role: Role,
    status: int,
) -> None:
    """Browsers get the site's own page for errors, not Werkzeug's unstyled one."""
    add_user("someone", role)
    response = getattr(login("someone"), method)(path)
    assert response.status_code == status
    assert response.mimetype == "text/html" and _is_styled_page(response.get_data(as_text=True))
    if status == 405:
        assert method.upper() not in response.headers["Allow"]


#: Navigation links (endpoint path -> label) each role may open.
NAVIGATION = {
    Role.DISPATCHER: {"Board", "Requests", "KPIs", "Password"},
    Role.REQUESTER: {"New request", "Password"},
    Role.TECHNICIAN: {"Password"},
    Role.WAREHOUSE: {"Warehouse", "Password"},
    Role.ADMIN: {"Board", "Requests", "KPIs", "Warehouse", "Admin", "Password"},
}


@pytest.mark.parametrize("role", list(NAVIGATION))
def test_navigation_offers_only_what_the_role_may_open(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient], role: Role
) -> None:
    """Each link shown opens for the role; the expected set per role is shown."""
    add_user("someone", role)
    client = login("someone")
    page = client.get("/account/password").get_data(as_text=True)
    navigation = page[page.index("<nav>") : page.index("</nav>")]
    found = re.findall(r'<a href="([^"]+)">([^<]+)</a>', navigation)
    links = {label: href for href, label in found}
    assert set(links) == NAVIGATION[role]
    for label, href in links.items():
        assert client.get(href).status_code in (200, 302), label


#: Where each role lands after signing in (the site's root).
LANDING = {
    Role.DISPATCHER: "/board/",
    Role.REQUESTER: "/requests/new",
    Role.WAREHOUSE: "/warehouse",
    Role.ADMIN: "/board/",
}


@pytest.mark.parametrize("role", list(NAVIGATION))
def test_each_role_lands_on_its_own_page(
    app: Flask, add_user: Callable[..., int], login: Callable[[str], FlaskClient], role: Role
) -> None:
    add_user("someone", role)
    answer = login("someone").get("/")
    if role in LANDING:
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith(LANDING[role])
    else:
        assert answer.status_code == 200 and "no pages for your role" in answer.text


def test_a_configured_map_basemap_may_serve_images_and_nothing_else(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(MAP_TILE_URL="https://tiles.example.org/{z}/{x}/{y}.png")
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' https://tiles.example.org" in policy
    assert policy.count("tiles.example.org") == 1

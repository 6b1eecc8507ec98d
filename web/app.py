"""The application factory: configuration, database session per request, blueprints.

Views use ``g.db``, the request's session, and commit it themselves when they change
something; teardown closes it, rolling back whatever was not committed.

Configuration, lowest to highest precedence: defaults below, ``DATABASE_URL``,
``FIELDOPS_*`` environment variables (``FIELDOPS_SECRET_KEY`` sets
``SECRET_KEY``), then the mapping passed to :func:`create_app`.

Every request passes the same guards: a CSRF token on every form post, no
cross-site writes to the JSON API, size limits, security headers on every answer,
and errors as problem+json (API) or a styled page (browsers), never a traceback.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import limits
import sqlalchemy.exc
from flask import Config, Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect  # type: ignore[import-untyped]
from sqlalchemy import Engine
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.geocoding import DEFAULT_TIMEOUT_SECONDS, make_geocoder
from dispatch.planning.policy import ReplanPolicy
from mobile_api.http import (
    ENGINE_KEY,
    GEOCODER_KEY,
    REPLAN_POLICY_KEY,
    SESSIONS_KEY,
    SafeJSONProvider,
    is_api_request,
    may_open,
    problem_response,
)

#: SHA-256 of the session key that was once committed (instance/secret_key, d058219).
#: Anyone can read it in the history, so a server using it would accept forged cookies.
LEAKED_SECRET_KEY_SHA256 = "ad24c878e59a77835d6d06c2191d45d10b80a998953c27218386dcf9f4d1356b"
MIN_SECRET_KEY_BYTES = 32

#: Only this site's own scripts run, and no string is evaluated as code. Inline styles
#: are allowed (styles cannot run code): the timeline library writes its own.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
#: Images a page makes itself, which may show besides the site's own: the phone app
#: previews a photo (``blob:``) before it is sent.
PAGE_IMAGES = "blob: data:"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Bodies the API takes besides JSON: CSV imports, photos and signatures from the phone.
#: A cross-site form can send none of them without a CORS preflight, which we never grant.
OTHER_API_BODIES = frozenset({"text/csv", "image/jpeg", "image/png", "image/webp"})


class ConfigurationError(click.ClickException):
    """The app refuses to start with this configuration.

    A click error so that the ``fieldops`` command shows the message alone (exit 2);
    a WSGI server shows it as the reason the app could not be built.
    """

    exit_code = 2


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Parameters
    ----------
    config
        Settings that override the environment (tests pass ``DATABASE_URL``).

    Raises
    ------
    ConfigurationError
        The secret key is too short or is the one published in the repository's history.
    """
    instance = instance_path()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    _make_private_folder(instance)
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{instance / 'fieldops.sqlite3'}"),
        GEOCODER_URL="https://nominatim.openstreetmap.org",
        # Nominatim's usage policy asks for an agent that identifies the installation.
        GEOCODER_USER_AGENT="fieldops (self-hosted; set FIELDOPS_GEOCODER_USER_AGENT)",
        GEOCODER_MIN_DELAY_S=1.0,
        GEOCODER_TIMEOUT_S=DEFAULT_TIMEOUT_SECONDS,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # set it to true when the site is served over HTTPS
        # How long a sign-in lasts on the server, however long the browser keeps the cookie.
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        MAX_CONTENT_LENGTH=1024 * 1024,
        MAX_FORM_MEMORY_SIZE=256 * 1024,
        MAX_FORM_PARTS=200,
        # Forms are checked in _guard_writes, which leaves the JSON API to its own rule.
        WTF_CSRF_CHECK_DEFAULT=False,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_KEY_PREFIX="fieldops",
        LOGIN_FAILURES_PER_ACCOUNT="5/minute",
        LOGIN_FAILURES_PER_CLIENT="20/minute",
        # Reverse proxies in front of the app whose X-Forwarded-* headers are believed.
        TRUSTED_PROXIES=0,
        # PostgreSQL connections kept open per process, and how many more a burst may
        # open (closed again when returned): a gevent worker serves many requests at once.
        DB_POOL_SIZE=20,
        DB_MAX_OVERFLOW=10,
        # The map's basemap: a tile URL template such as https://tile.example.org/{z}/{x}/{y}.png
        # (its host is then allowed to serve images); none by default, so no page asks
        # another host and the map works offline.
        MAP_TILE_URL=None,
        MAP_ATTRIBUTION="",
    )
    app.config.from_prefixed_env("FIELDOPS")
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(instance)
    _check_secret_key(app.config["SECRET_KEY"])
    app.json = SafeJSONProvider(app)
    app.config["CONTENT_SECURITY_POLICY"] = content_security_policy(app.config["MAP_TILE_URL"])
    proxies = app.config["TRUSTED_PROXIES"]
    if not isinstance(proxies, int) or proxies < 0:
        raise ConfigurationError(f"FIELDOPS_TRUSTED_PROXIES must be 0, 1, 2..., not {proxies!r}")
    if proxies:
        # Without this, every client behind the proxy shares its address (and throttle).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    app.extensions[REPLAN_POLICY_KEY] = _replan_policy(app.config)
    engine = make_engine(app.config["DATABASE_URL"], **_pool_options(app.config))
    _create_private_sqlite_file(engine)
    sessions = make_session_factory(engine)
    app.extensions[ENGINE_KEY] = engine
    app.extensions[SESSIONS_KEY] = sessions
    # One geocoder per process: its rate limiter must see every lookup the app makes.
    app.extensions[GEOCODER_KEY] = make_geocoder(
        user_agent=app.config["GEOCODER_USER_AGENT"],
        url=app.config["GEOCODER_URL"],
        min_delay_seconds=_seconds(app.config, "GEOCODER_MIN_DELAY_S"),
        timeout_seconds=_seconds(app.config, "GEOCODER_TIMEOUT_S"),
    )
    csrf = CSRFProtect(app)

    @app.before_request
    def _open_session() -> None:
        # A Session connects only when first used, so opening one per request is cheap.
        g.db = sessions()

    @app.before_request
    def _guard_writes() -> None:
        if request.endpoint is None:
            return  # no such route: routing answers 404 or 405 and no view runs
        if is_api_request():
            _refuse_cross_site_api_writes()
        else:
            csrf.protect()

    app.teardown_appcontext(_close_session)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(sqlalchemy.exc.TimeoutError, _overloaded)
    app.register_error_handler(Exception, _unexpected_error)
    app.jinja_env.globals["may_open"] = may_open

    from mobile_api import bp as mobile_bp
    from mobile_api import phone_app
    from web import (
        admin,
        auth,
        desk,
        devices_api,
        dispatcher,
        events_api,
        inventory_api,
        kpis_api,
        plans_api,
        requests,
        warehouse,
    )

    try:
        auth.init_app(
            app,
            per_account=_rate_limit(app.config, "LOGIN_FAILURES_PER_ACCOUNT"),
            per_client=_rate_limit(app.config, "LOGIN_FAILURES_PER_CLIENT"),
        )
    except limits.errors.ConfigurationError as exc:
        raise ConfigurationError(f"FIELDOPS_RATELIMIT_STORAGE_URI: {exc}") from None
    except ValueError as exc:
        raise ConfigurationError(f"FIELDOPS_{exc}") from None
    app.register_blueprint(dispatcher.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(warehouse.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(plans_api.bp)
    app.register_blueprint(inventory_api.bp)
    app.register_blueprint(kpis_api.bp)
    app.register_blueprint(devices_api.bp)
    app.register_blueprint(events_api.bp)
    app.register_blueprint(mobile_bp)
    app.register_blueprint(phone_app.bp)
    return app


def freeze_startup_objects() -> None:
    """Take what a serving process has loaded so far out of the garbage collector's sight.

    Call it once the app is built. Most of a worker's objects are loaded at start and
    live as long as it does (the optimizer, the models, the API's schemas); a full
    collection walks every one of them and stalls each request the process holds: a
    quarter of a second per collection in a gevent worker with 500 open streams (issue
    10's benchmark). Frozen, they are never walked again; what requests allocate is
    collected as before.
    """
    gc.collect()
    gc.freeze()


def instance_path() -> Path:
    """The instance folder: the default SQLite file, the demo database, the secret key.

    ``FIELDOPS_INSTANCE_PATH`` moves it; otherwise it is Flask's choice for the package.
    """
    configured = os.environ.get("FIELDOPS_INSTANCE_PATH")
    if configured:
        return Path(configured)
    return Path(Flask(__name__, instance_relative_config=True).instance_path)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()  # rolls back anything a view did not commit


def _refuse_cross_site_api_writes() -> None:
    """API writes must come from this site or from a non-browser client, as JSON (or CSV
    for the file imports, or an image from the phone).

    The API takes no CSRF token, but a browser sends the session cookie (and cached
    Basic credentials) with a cross-site request. A cross-site page can only send
    form-encodable bodies without asking first (CORS preflight, which we never grant),
    so insisting on those bodies and on a same-origin ``Origin``/``Sec-Fetch-Site`` stops it.
    """
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("cross-site requests to the API are refused")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise Forbidden("cross-site requests to the API are refused")
    if not (request.is_json or request.mimetype in OTHER_API_BODIES):
        raise UnsupportedMediaType("send the body as application/json")


def content_security_policy(tile_url: str | None) -> str:
    """The policy, allowing the map's tile host to serve images when one is configured.

    Raises
    ------
    ConfigurationError
        The tile URL is not an http(s) template with ``{z}``, ``{x}`` and ``{y}``.
    """
    if not tile_url:
        return f"{CONTENT_SECURITY_POLICY}; img-src 'self' {PAGE_IMAGES}"
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"FIELDOPS_MAP_TILE_URL must be an http(s) URL, not {tile_url!r}")
    if not all(field in tile_url for field in ("{z}", "{x}", "{y}")):
        raise ConfigurationError("FIELDOPS_MAP_TILE_URL must hold {z}, {x} and {y}")
    return (
        f"{CONTENT_SECURITY_POLICY}; img-src 'self' {parts.scheme}://{parts.netloc} {PAGE_IMAGES}"
    )


def _security_headers(response: Response) -> Response:
    """No framing, no sniffing, no inline code, no referrer leaks, no stored copies."""
    response.headers["Content-Security-Policy"] = current_app.config["CONTENT_SECURITY_POLICY"]
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "static":
        # Pages show signed-in data and carry form tokens; only the stylesheet may be cached.
        response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_error(error: CSRFError) -> Any:
    return _http_error(
        BadRequest(
            "This form has expired or was sent from another site. "
            "Go back, reload the page and try again."
        )
    )


def _http_error(error: HTTPException) -> Any:
    """JSON clients get problem+json; browsers get the error page in the site's layout."""
    status = error.code or 500
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if is_api_request() or request.accept_mimetypes.best == "application/json":
        return problem_response(status, error.name, error.description, headers=headers)
    return render_template("errors/error.html", error=error), status, headers


def _overloaded(error: sqlalchemy.exc.TimeoutError) -> Any:
    """Every database connection stayed busy for the pool's timeout: too many requests at
    once. A 503 the client may retry, not a bug's 500."""
    current_app.logger.warning(
        "no database connection free for %s %s", request.method, request.path
    )
    return _http_error(ServiceUnavailable("The server is busy. Try again shortly.", retry_after=5))


def _unexpected_error(error: Exception) -> Any:
    """A bug: the traceback goes to the server log, the client gets a plain 500."""
    current_app.logger.error(
        "Unhandled exception on %s %s", request.method, request.path, exc_info=error
    )
    return _http_error(InternalServerError())


def _make_private_folder(folder: Path) -> None:
    """The instance folder holds the key and password hashes: owner only (0700)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)


def _create_private_file(path: Path) -> bool:
    """Create ``path`` empty and readable by the owner only; False if it already exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def _pool_options(config: Mapping[str, Any]) -> dict[str, int]:
    """The connection pool's size on PostgreSQL (SQLite keeps SQLAlchemy's defaults)."""
    options = {"pool_size": config["DB_POOL_SIZE"], "max_overflow": config["DB_MAX_OVERFLOW"]}
    for name, value in options.items():
        least = 1 if name == "pool_size" else 0
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ConfigurationError(
                f"FIELDOPS_DB_{name.upper()} must be a whole number from {least}, not {value!r}"
            )
    return options if config["DATABASE_URL"].startswith("postgres") else {}


def _create_private_sqlite_file(engine: Engine) -> None:
    """Create a new SQLite database file as 0600 before SQLite creates it world-readable.

    SQLite gives its journal files the database file's permissions. An empty file is
    an empty database. A missing folder is left for the connection to report.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return
    if engine.url.query.get("mode") == "memory" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        _create_private_file(path)


def _instance_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder (0600), so sessions survive restarts."""
    key_file = instance / "secret_key"
    if _create_private_file(key_file):
        key_file.write_text(secrets.token_hex(32))
    key_file.chmod(0o600)
    return key_file.read_text().strip()


def _replan_policy(config: Config) -> ReplanPolicy:
    """The re-plan policy FIELDOPS_AUTO_PUBLISH and FIELDOPS_REPLAN_TIME_LIMIT_S set, read
    once at start so that a bad value stops the app instead of failing a page later."""
    settings = {
        f"FIELDOPS_{name}": str(config[name])
        for name in ("AUTO_PUBLISH", "REPLAN_TIME_LIMIT_S")
        if name in config
    }
    try:
        return ReplanPolicy.from_env(settings)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc


def _seconds(config: Config, name: str) -> float:
    """The setting ``name`` as a finite, non-negative number of seconds, or a clear refusal."""
    value = config[name]
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(f"FIELDOPS_{name} must be a number of seconds, not {value!r}")
    return seconds


def _rate_limit(config: Config, name: str) -> limits.RateLimitItem:
    """The rate limit set as ``name`` (like ``5/minute``), or a clear refusal."""
    value = config[name]
    try:
        return limits.parse(str(value))
    except ValueError:
        raise ConfigurationError(
            f"FIELDOPS_{name} must read like '5/minute' or '20 per hour', not {value!r}"
        ) from None


def _check_secret_key(key: object) -> None:
    """Refuse short keys and the key published in the repository's history."""
    if not isinstance(key, str | bytes):
        # FIELDOPS_* values that read as JSON become numbers; a key must stay text.
        raise ConfigurationError("the secret key must be text (it reads as a number)")
    raw = key.encode() if isinstance(key, str) else key
    if hashlib.sha256(raw.strip()).hexdigest() == LEAKED_SECRET_KEY_SHA256:
        raise ConfigurationError(
            "the secret key is the one published in fieldops' git history; delete the "
            "instance folder's secret_key file (a new one is made) or set "
            "FIELDOPS_SECRET_KEY to a new random value"
        )
    if len(raw) < MIN_SECRET_KEY_BYTES:
        raise ConfigurationError(
            f"the secret key has {len(raw)} bytes; use at least {MIN_SECRET_KEY_BYTES} "
            "random bytes (python -c 'import secrets; print(secrets.token_hex(32))')"
        )

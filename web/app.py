"""The application factory: configuration, database session per request, blueprints.

Views use ``g.db``, the request's session, and commit it themselves when they change
something; teardown closes it, rolling back whatever was not committed.

Configuration, lowest to highest precedence: defaults below, ``DATABASE_URL``,
``FIELDOPS_*`` environment variables (``FIELDOPS_SECRET_KEY`` sets
``SECRET_KEY``), then the mapping passed to :func:`create_app`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.geocoding import make_geocoder
from mobile_api.problems import problem_response

SESSIONS_KEY = "fieldops.sessions"
ENGINE_KEY = "fieldops.engine"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Parameters
    ----------
    config
        Settings that override the environment (tests pass ``DATABASE_URL``).
    """
    instance = instance_path()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{instance / 'fieldops.sqlite3'}"),
        GEOCODER_URL="https://nominatim.openstreetmap.org",
        # Nominatim's usage policy asks for an agent that identifies the installation.
        GEOCODER_USER_AGENT="fieldops (self-hosted; set FIELDOPS_GEOCODER_USER_AGENT)",
        GEOCODER_MIN_DELAY_S=1.0,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env("FIELDOPS")
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(instance)

    engine = make_engine(app.config["DATABASE_URL"])
    sessions = make_session_factory(engine)
    app.extensions[ENGINE_KEY] = engine
    app.extensions[SESSIONS_KEY] = sessions

    @app.before_request
    def _open_session() -> None:
        # A Session connects only when first used, so opening one per request is cheap.
        g.db = sessions()

    app.teardown_appcontext(_close_session)
    app.register_error_handler(HTTPException, _http_error)

    from mobile_api import bp as mobile_bp
    from web import auth, dispatcher, requests

    # One geocoder per process: its rate limiter must see every lookup the app makes.
    app.extensions[requests.GEOCODER_KEY] = make_geocoder(
        user_agent=app.config["GEOCODER_USER_AGENT"],
        url=app.config["GEOCODER_URL"],
        min_delay_seconds=float(app.config["GEOCODER_MIN_DELAY_S"]),
    )
    app.register_blueprint(auth.bp)
    app.register_blueprint(dispatcher.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(mobile_bp)
    return app


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


def _http_error(error: HTTPException) -> Any:
    """JSON clients get problem+json; browsers get Werkzeug's HTML page."""
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return problem_response(error.code or 500, error.name, error.description)
    return error


def _instance_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()

"""Signing in and out, changing one's password, and throttling password guesses.

Browsers sign in through the login form: the cookie then carries the token of a
server-side sign-in (``dispatch.users.start_session``), so signing out or changing
the password really ends it. Scripts may send HTTP Basic credentials instead, on the
JSON API only: browsers replay Basic credentials cross-site, which must never reach
a form. Phones send the bearer token of their device (``mobile_api.auth``), also on
the JSON API only.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from limits import RateLimitItem
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from werkzeug.exceptions import TooManyRequests

from dispatch.audit import set_actor
from dispatch.devices import PhoneUser, device_user
from dispatch.models import User
from dispatch.users import (
    AccountError,
    WrongPassword,
    authenticate,
    change_password,
    end_session,
    session_user,
    start_session,
)
from mobile_api.http import LOGIN_THROTTLE_KEY, is_api_request, login_required

#: Key of the sign-in token in Flask's (signed) session cookie.
TOKEN_KEY = "sign_in"

bp = Blueprint("auth", __name__)


class LoginThrottle:
    """Counts failed password checks per account and per client; refuses more with 429.

    Only failures count, so a user who signs in correctly is never slowed down. Once a
    limit is used up, even the right password is refused until the window moves on:
    otherwise a guesser would learn when a guess was right. Counts are kept by the
    ``limits`` library in memory, or in Redis when ``RATELIMIT_STORAGE_URI`` names one, so
    that several server processes share them.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_account: RateLimitItem,
        per_client: RateLimitItem,
        prefix: str,
    ) -> None:
        self._limiter = limiter
        self._per_account = per_account
        self._per_client = per_client
        self._prefix = prefix

    def check(self, username: str) -> None:
        """Raise 429 with ``Retry-After`` if this account or this client has no tries left."""
        for limit, key in self._counters(username):
            if not self._limiter.test(limit, self._prefix, key):
                reset_at = self._limiter.get_window_stats(limit, self._prefix, key).reset_time
                wait_s = max(1, math.ceil(reset_at - time.time()))
                raise TooManyRequests(
                    f"Too many failed sign-ins. Try again in {wait_s} seconds.",
                    retry_after=wait_s,
                )

    def failed(self, username: str) -> None:
        """Count one failed password check against the account and the client."""
        for limit, key in self._counters(username):
            self._limiter.hit(limit, self._prefix, key)

    def _counters(self, username: str) -> list[tuple[RateLimitItem, str]]:
        # Hashed so arbitrary user input never becomes a raw storage key.
        account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
        return [
            (self._per_account, f"login-account:{account}"),
            (self._per_client, f"login-client:{request.remote_addr or 'unknown'}"),
        ]


def init_app(app: Flask, *, per_account: RateLimitItem, per_client: RateLimitItem) -> None:
    """Attach the login throttle and the sign-in pages.

    Raises
    ------
    limits.errors.ConfigurationError
        ``RATELIMIT_STORAGE_URI`` names no storage that can be used.
    ValueError
        ``RATELIMIT_STRATEGY`` names no strategy.
    """
    strategy = app.config["RATELIMIT_STRATEGY"]
    if strategy not in STRATEGIES:
        raise ValueError(f"RATELIMIT_STRATEGY is one of {', '.join(STRATEGIES)}, not {strategy!r}")
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions[LOGIN_THROTTLE_KEY] = LoginThrottle(
        STRATEGIES[strategy](storage),
        per_account=per_account,
        per_client=per_client,
        prefix=app.config["RATELIMIT_KEY_PREFIX"],
    )
    app.register_blueprint(bp)


@bp.before_app_request
def load_user() -> None:
    """Put the signed-in user on ``g`` and name them as the actor of this request's changes.

    On the JSON API a phone's bearer token also signs in, as a
    :class:`~dispatch.devices.PhoneUser` (its ``device_id`` says which phone). A bearer
    token that does not work sets ``g.token_refused``, so that ``login_required`` answers
    401 ``invalid_token`` and the phone knows to refresh.
    """
    token = session.get(TOKEN_KEY)
    credentials = request.authorization if is_api_request() else None
    user: User | PhoneUser | None = None
    if token is not None:
        user = session_user(g.db, token, lifetime=current_app.permanent_session_lifetime)
        if user is None:
            session.clear()  # signed out, expired, password changed, or deactivated
    elif credentials is not None and credentials.type == "basic":
        user = _check_password(credentials.username or "", credentials.password or "")
    elif credentials is not None and credentials.type == "bearer":
        user = device_user(g.db, credentials.token or "")
        if user is None:
            g.token_refused = True
        elif user.marked_seen:
            # Keep the device's last_seen_at even when the view only reads, and do not
            # hold its row locked through a long request (an event stream).
            g.db.commit()
    g.user = user
    if user is not None:
        set_actor(g.db, user_id=user.id, name=user.username)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with username and password."""
    if request.method == "POST":
        user = _check_password(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            flash("Wrong username or password.")
            return render_template("login.html"), 401
        _start_sign_in(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html")


@bp.post("/logout")
def logout() -> Any:
    """Sign out: the sign-in ends on the server, so a copy of the cookie stops working too."""
    token = session.get(TOKEN_KEY)
    if token is not None:
        end_session(g.db, token)
        g.db.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required()
def password() -> Any:
    """Change one's own password; every other sign-in of the account ends."""
    error = None
    if request.method == "POST":
        throttle: LoginThrottle = current_app.extensions[LOGIN_THROTTLE_KEY]
        throttle.check(g.user.username)
        try:
            change_password(
                g.db,
                g.user,
                current_password=request.form.get("current_password", ""),
                new_password=request.form.get("new_password", ""),
            )
        except WrongPassword as exc:
            throttle.failed(g.user.username)
            error = str(exc)
        except AccountError as exc:
            error = str(exc)
        else:
            _start_sign_in(g.user)
            flash("Password changed. Every other sign-in of your account has ended.")
            return redirect(url_for("dispatcher.index"))
    return render_template("password.html", error=error), (422 if error else 200)


def _check_password(username: str, password: str) -> User | None:
    """The user with these credentials, counting a failure against the throttle."""
    throttle: LoginThrottle = current_app.extensions[LOGIN_THROTTLE_KEY]
    throttle.check(username)
    user = authenticate(g.db, username, password)
    if user is None:
        throttle.failed(username)
    return user


def _start_sign_in(user: User) -> None:
    """A fresh cookie with a new server-side sign-in (never reuse a pre-login session)."""
    session.clear()
    session[TOKEN_KEY] = start_session(g.db, user, lifetime=current_app.permanent_session_lifetime)
    g.db.commit()


def _safe_next(target: str | None) -> str:
    """Only redirect within this site after login (no open redirect)."""
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("dispatcher.index")

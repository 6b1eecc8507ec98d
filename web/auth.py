"""Signing in and out, and the role checks every page uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from dispatch.audit import set_actor
from dispatch.enums import Role
from dispatch.models import User
from dispatch.users import authenticate
from mobile_api.problems import problem_response

bp = Blueprint("auth", __name__)


@bp.before_app_request
def load_user() -> None:
    """Put the signed-in user on ``g`` and name them as the actor of this request's changes.

    Browsers sign in through the login form (session cookie); scripts may send
    HTTP Basic credentials with each request instead.
    """
    user_id = session.get("user_id")
    credentials = request.authorization
    if user_id is not None:
        g.user = g.db.get(User, user_id)
    elif credentials is not None and credentials.type == "basic":
        g.user = authenticate(g.db, credentials.username or "", credentials.password or "")
    else:
        g.user = None
    if g.user is not None and not g.user.active:
        session.clear()
        g.user = None
    if g.user is not None:
        set_actor(g.db, user_id=g.user.id, name=g.user.username)


def login_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Send anonymous visitors to the login page; refuse users without one of ``roles``."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            api = request.path.startswith("/api/")
            if g.user is None:
                if api:
                    return problem_response(
                        401,
                        "Unauthorized",
                        "sign in or send HTTP Basic credentials",
                        headers={"WWW-Authenticate": 'Basic realm="fieldops"'},
                    )
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and not any(g.user.has_role(r) for r in (*roles, Role.ADMIN)):
                if api:
                    return problem_response(403, "Forbidden", "your role may not do this")
                abort(403)
            return view(**kwargs)

        return wrapped

    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with username and password."""
    if request.method == "POST":
        user = authenticate(
            g.db, request.form.get("username", ""), request.form.get("password", "")
        )
        if user is None:
            flash("Wrong username or password.")
            return render_template("login.html"), 401
        session.clear()
        session["user_id"] = user.id
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html")


@bp.post("/logout")
def logout() -> Any:
    """Sign out."""
    session.clear()
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    """Only redirect within this site after login (no open redirect)."""
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("dispatcher.index")

"""HTTP plumbing shared by every blueprint: problem+json, the sign-in requirement, app keys.

It lives in ``mobile_api`` because that is the lowest package that knows Flask: ``web``
depends on ``mobile_api``, never the reverse (``tests/test_architecture.py``), so this is
the one place both the phone API and the web pages can import it from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from flask import Response, current_app, g, jsonify, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from pydantic import ValidationError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from dispatch.enums import Role

#: ``app.extensions`` keys of what the app factory builds once per process.
ENGINE_KEY = "fieldops.engine"
SESSIONS_KEY = "fieldops.sessions"
GEOCODER_KEY = "fieldops.geocoder"
LOGIN_THROTTLE_KEY = "fieldops.login_throttle"
REPLAN_POLICY_KEY = "fieldops.replan_policy"

#: Path prefix of the JSON API: problem+json errors, HTTP Basic allowed, no form tokens.
API_PREFIX = "/api/"

#: Path prefix of the technician API, whose clients sign in with bearer tokens.
MOBILE_PREFIX = "/api/mobile/"

#: Attribute ``login_required`` leaves on a view: the roles it admits (empty: anyone signed in).
_ROLES_ATTRIBUTE = "required_roles"


def is_api_request() -> bool:
    """Whether the current request is for the JSON API (and so answers problem+json)."""
    return request.path.startswith(API_PREFIX)


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    headers: Iterable[tuple[str, str]] = (),
    **extra: Any,
) -> Response:
    """An RFC 9457 ``application/problem+json`` response; ``extra`` adds members like ``errors``.

    ``headers`` are added as given, so a header may repeat (several challenges, say).
    """
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers.extend(headers)
    return response


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """A request model's refusal as problem+json ``errors``: each bad field's dotted path
    (``lines.0.quantity``) and why."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]


class Account(Protocol):
    """The signed-in user as requests see it (``g.user``): a
    :class:`~dispatch.models.User`, or a phone's :class:`~dispatch.devices.PhoneUser`."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    def has_role(self, role: Role) -> bool: ...


def user_may(user: Account, roles: Iterable[Role]) -> bool:
    """Whether ``user`` holds one of ``roles`` (none listed: any user); admins may do anything."""
    wanted = tuple(roles)
    return not wanted or any(user.has_role(role) for role in (*wanted, Role.ADMIN))


def login_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Admit only signed-in users holding one of ``roles``.

    Anonymous browsers are sent to the login page; anonymous API clients get 401 with
    a Basic challenge (a Bearer one on the technician API, or when the request's bearer
    token was refused: ``g.token_refused``); users without the role get 403. The roles
    stay on the view so the navigation can show only what a user may open
    (:func:`may_open`).
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            user: Account | None = g.get("user")
            if user is None:
                if is_api_request():
                    raise _unauthorized()
                return redirect(url_for("auth.login", next=request.full_path))
            if not user_may(user, roles):
                raise Forbidden("your role may not open this")
            return view(**kwargs)

        setattr(wrapped, _ROLES_ATTRIBUTE, roles)
        return wrapped

    return decorator


def _unauthorized() -> Unauthorized:
    """401 with the challenge the client can answer: the phone API wants a bearer token,
    the rest of the API takes HTTP Basic too; a refused bearer token is named as such."""
    if g.get("token_refused"):
        return Unauthorized(
            "the access token is unknown, expired or revoked: refresh it or sign in again",
            www_authenticate=WWWAuthenticate(
                "bearer", {"realm": "fieldops", "error": "invalid_token"}
            ),
        )
    if request.path.startswith(MOBILE_PREFIX):
        return Unauthorized(
            "sign in at /api/mobile/v1/auth/login and send the access token as a bearer token",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "fieldops"}),
        )
    return Unauthorized(
        "sign in or send HTTP Basic credentials",
        www_authenticate=WWWAuthenticate("basic", {"realm": "fieldops"}),
    )


def may_open(endpoint: str) -> bool:
    """Whether the signed-in user may open ``endpoint`` (for navigation links)."""
    user: Account | None = g.get("user")
    view = current_app.view_functions.get(endpoint)
    if user is None or view is None or not hasattr(view, _ROLES_ATTRIBUTE):
        return False
    return user_may(user, getattr(view, _ROLES_ATTRIBUTE))


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, except that input nested too deeply is invalid JSON.

    ``json.loads`` raises ``RecursionError`` on deep nesting (100,000 ``[``); as a
    ``ValueError`` it takes Flask's path for bad JSON, a 400, in every view at once.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

"""Signing a phone in and out of the technician API: bearer tokens instead of a cookie.

``POST /auth/login`` checks the password through the web login's throttle (one count of
failures per account and client, whichever door a guesser uses) and signs a new device
in; ``POST /auth/refresh`` exchanges the refresh token for a new pair (a refresh token
used twice revokes its device); ``POST /auth/logout`` revokes the calling device. The
tokens and their rules are :mod:`dispatch.devices`'; ``web.auth.load_user`` reads the
bearer token of each request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, current_app, g, request
from pydantic import BaseModel, ConfigDict, StringConstraints

from dispatch.devices import (
    DEVICE_NAME_LENGTH,
    InvalidToken,
    PhoneUser,
    RefreshTokenReused,
    TokenPair,
    refresh,
    sign_in_device,
    sign_out,
)
from dispatch.enums import Role
from dispatch.users import MAX_PASSWORD_LENGTH, authenticate
from mobile_api.blueprint import bp
from mobile_api.http import LOGIN_THROTTLE_KEY, login_required, problem_response, user_may
from mobile_api.spec import api, responses

#: Text a person types or a phone names itself with: no control characters (NUL breaks
#: PostgreSQL, line breaks mislead whoever reads a list of devices).
_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"


class LoginRequest(BaseModel):
    """The body of ``POST /auth/login``: the account and a name for this phone."""

    model_config = ConfigDict(extra="forbid", strict=True)

    username: Annotated[
        str, StringConstraints(min_length=1, max_length=80, pattern=_NO_CONTROL_CHARACTERS)
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
    device: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=DEVICE_NAME_LENGTH,
            pattern=_NO_CONTROL_CHARACTERS,
        ),
    ]


class RefreshRequest(BaseModel):
    """The body of ``POST /auth/refresh``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LogoutRequest(BaseModel):
    """The body of ``POST /auth/logout``: ``{}`` (API writes are JSON, see ``web.app``)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Tokens(BaseModel):
    """A new pair: send ``access_token`` as ``Authorization: Bearer``; when it has run out
    (``expires_in`` seconds, or a 401), exchange ``refresh_token`` for the next pair."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


@bp.post("/auth/login")
@api.validate(json=LoginRequest, resp=responses(Tokens, 403, 429), tags=["auth"], security={})
def login(json: LoginRequest) -> Any:
    """Sign this phone in as a technician; 401 for a wrong password, 429 after too many."""
    throttle = current_app.extensions[LOGIN_THROTTLE_KEY]
    throttle.check(json.username)
    user = authenticate(g.db, json.username, json.password)
    if user is None:
        throttle.failed(json.username)
        return _unauthorized("wrong username or password")
    if not user_may(user, [Role.TECHNICIAN]):
        return problem_response(403, "Forbidden", "only technicians sign in a phone")
    pair = sign_in_device(g.db, user, json.device)
    g.db.commit()
    return _tokens(pair)


@bp.post("/auth/refresh")
@api.validate(json=RefreshRequest, resp=responses(Tokens), tags=["auth"], security={})
def refresh_tokens(json: RefreshRequest) -> Any:
    """Exchange the refresh token for a new pair; a token used before revokes the device."""
    try:
        pair = refresh(g.db, json.refresh_token)
    except RefreshTokenReused as exc:
        g.db.commit()  # the revocation stands although the exchange failed
        return _unauthorized(str(exc))
    except InvalidToken as exc:
        return _unauthorized(str(exc))
    g.db.commit()
    return _tokens(pair)


@bp.post("/auth/logout")
@login_required()
@api.validate(json=LogoutRequest, resp=responses(None, 400, status=204), tags=["auth"])
def logout(json: LogoutRequest) -> Any:
    """Sign this phone out: its device is revoked and every token of it stops working."""
    if not isinstance(g.user, PhoneUser) or request.authorization is None:
        return problem_response(
            400, "Bad Request", "a phone signs out with its bearer token; browsers use /logout"
        )
    sign_out(g.db, request.authorization.token or "")
    g.db.commit()
    return "", 204


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


def _unauthorized(detail: str) -> Response:
    return problem_response(
        401, "Unauthorized", detail, headers=[("WWW-Authenticate", 'Bearer realm="fieldops"')]
    )

"""The dispatchers' view of signed-in phones: who has which device, and revoking one.

A lost or stolen phone is revoked here: its tokens stop working at once, while the
user's other devices stay signed in. Writes follow the app's rules for the JSON API
(JSON bodies only, never from another site: see ``web.app``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, g, request
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from werkzeug.exceptions import NotFound

from dispatch.devices import REASON_LENGTH, DeviceNotFound, devices_of, revoke
from dispatch.enums import Role
from dispatch.field_models import Device
from dispatch.models import User
from mobile_api.http import field_errors, login_required, problem_response

bp = Blueprint("devices_api", __name__, url_prefix="/api/v1/devices")


class RevokeRequest(BaseModel):
    """The body of ``POST /api/v1/devices/<id>/revoke`` (``{}`` for the default reason)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True,
                min_length=1,
                max_length=REASON_LENGTH,
                pattern=r"^[^\x00-\x1f\x7f]*$",
            ),
        ]
        | None
    ) = None


@bp.get("")
@login_required(Role.DISPATCHER)
def devices() -> Any:
    """Every signed-in or revoked phone with its user, newest first."""
    return {"devices": [_device(device, user) for device, user in devices_of(g.db)]}


@bp.post("/<int:device_id>/revoke")
@login_required(Role.DISPATCHER)
def revoke_device(device_id: int) -> Any:
    """Revoke a phone: every token of it stops working now. Revoking twice changes nothing."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem_response(400, "Bad Request", "send a JSON object ({} for no reason)")
    try:
        asked = RevokeRequest.model_validate(body)
    except ValidationError as exc:
        errors = field_errors(exc)
        return problem_response(
            422, "Invalid revocation", f"{len(errors)} field(s) need attention", errors=errors
        )
    try:
        device = revoke(g.db, device_id, asked.reason or f"revoked by {g.user.username}")
    except DeviceNotFound as exc:
        raise NotFound(str(exc)) from None
    g.db.commit()
    return _device(device, g.db.get_one(User, device.user_id))


def _device(device: Device, user: User) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "user": {"id": user.id, "username": user.username, "full_name": user.full_name},
        "created_at": device.created_at.isoformat(),
        "last_seen_at": _iso(device.last_seen_at),
        "revoked_at": _iso(device.revoked_at),
        "revoked_reason": device.revoked_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None

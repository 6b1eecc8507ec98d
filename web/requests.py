"""Service-request intake over the web: the requester's form and the JSON API.

Both hand the submission to ``dispatch.intake.submit_request``; they differ only
in how input arrives and how errors are shown.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select

from dispatch.db import utcnow
from dispatch.enums import Channel, Level, Role
from dispatch.geocoding import CachedGeocoder
from dispatch.intake import IntakeError, flat_submission, submit_request
from dispatch.models import CatalogItem, ServiceRequest
from mobile_api.problems import problem_response
from web.auth import login_required

GEOCODER_KEY = "fieldops.geocoder"
INTAKE_ROLES = (Role.REQUESTER, Role.DISPATCHER)

bp = Blueprint("requests", __name__)


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required(*INTAKE_ROLES)
def new_request() -> Any:
    """The web form for raising a service request."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            created = _submit(flat_submission(request.form), Channel.WEB)
        except IntakeError as exc:
            errors = {e.field: e.message for e in exc.errors}
        else:
            return redirect(url_for("requests.show_request", reference=created.reference))
    catalog = g.db.scalars(
        select(CatalogItem).where(CatalogItem.active).order_by(CatalogItem.name)
    ).all()
    return render_template(
        "requests/new.html", catalog=catalog, levels=list(Level), form=request.form, errors=errors
    ), (422 if errors else 200)


@bp.get("/requests/<reference>")
@login_required(*INTAKE_ROLES)
def show_request(reference: str) -> Any:
    """What was recorded: reference, priority and SLA due times."""
    found = g.db.scalar(select(ServiceRequest).where(ServiceRequest.reference == reference))
    if found is None or not _may_see(found):
        return render_template("requests/missing.html", reference=reference), 404
    return render_template("requests/show.html", service_request=found)


@bp.post("/api/v1/requests")
@login_required(*INTAKE_ROLES)
def create_request_api() -> Any:
    """Raise a service request from JSON; 201 with its reference, 422 listing every bad field."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem_response(400, "Bad Request", "send a JSON object")
    try:
        created = _submit(body, Channel.API)
    except IntakeError as exc:
        return problem_response(
            422,
            "Invalid service request",
            f"{len(exc.errors)} field(s) need attention",
            errors=[{"field": e.field, "message": e.message} for e in exc.errors],
        )
    job = created.jobs[0]
    response = {
        "reference": created.reference,
        "priority": created.priority.value,
        "sla_response_due": _iso(created.sla_response_due),
        "sla_resolution_due": _iso(created.sla_resolution_due),
        "job": {"reference": job.reference, "status": job.status.value},
    }
    location = url_for("requests.show_request", reference=created.reference)
    return response, 201, {"Location": location}


def _submit(submission: dict[str, Any], channel: Channel) -> ServiceRequest:
    """Record the submission for the signed-in user and commit it."""
    submission = {**submission, "channel": channel.value, "requester_user_id": g.user.id}
    geocoder = CachedGeocoder(g.db, current_app.extensions[GEOCODER_KEY])
    created = submit_request(g.db, submission, geocoder=geocoder, now=utcnow())
    g.db.commit()
    return created


def _may_see(service_request: ServiceRequest) -> bool:
    """Requesters see their own requests; dispatchers and admins see all."""
    user = g.user
    if user.has_role(Role.DISPATCHER) or user.has_role(Role.ADMIN):
        return True
    return service_request.requester_user_id == user.id


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None

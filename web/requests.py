"""Service-request intake over the web: the requester's form and the JSON API.

Both hand the submission to ``dispatch.intake.submit_request``; they differ only
in how input arrives and how errors are shown: the form by each field, under the
label a person sees; the API as machine field paths in problem+json.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from dispatch.catalog import offered_items
from dispatch.db import utcnow
from dispatch.desk import desk_clock, is_open, request_history
from dispatch.enums import Channel, Level, Role
from dispatch.geocoding import CachedGeocoder
from dispatch.intake import (
    FORM_FIELDS,
    IntakeError,
    flat_name,
    flat_submission,
    label_of,
    submit_request,
    visible_request,
)
from dispatch.models import ServiceRequest
from mobile_api.http import GEOCODER_KEY, login_required, problem_response, user_may

INTAKE_ROLES = (Role.REQUESTER, Role.DISPATCHER)
#: What the form calls each field.
FORM_LABELS = {field.name: field.label for field in FORM_FIELDS}

bp = Blueprint("requests", __name__)


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required(*INTAKE_ROLES)
def new_request() -> Any:
    """The web form for raising a service request."""
    errors: dict[str, str] = {}
    labels: dict[str, str] = {}
    if request.method == "POST":
        try:
            created = _submit(flat_submission(request.form), Channel.WEB)
        except IntakeError as exc:
            errors, labels = form_errors(exc)
        else:
            return redirect(url_for("requests.show_request", reference=created.reference))
    return render_template("requests/new.html", **form_context(errors, labels)), (
        422 if errors else 200
    )


def form_errors(exc: IntakeError) -> tuple[dict[str, str], dict[str, str]]:
    """A refused submission's messages and labels, by the form field they belong under."""
    errors: dict[str, str] = {}
    labels: dict[str, str] = {}
    for error in exc.errors:
        name = flat_name(error.field)
        errors[name] = "; ".join(filter(None, (errors.get(name), error.message)))
        labels[name] = label_of(error.field)
    return errors, labels


def form_context(errors: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    """What ``requests/_fields.html`` reads to draw the request form again."""
    return {
        "catalog": offered_items(g.db),
        "levels": list(Level),
        "form": request.form,
        "errors": errors,
        "error_labels": labels,
        "labels": FORM_LABELS,
    }


@bp.get("/requests/<reference>")
@login_required(*INTAKE_ROLES)
def show_request(reference: str) -> Any:
    """What was recorded and what became of it: site, requester, jobs, SLA due times on the
    service area's clock, and the history from the event log (for a requester, only the
    request's own progress)."""
    found = visible_request(g.db, reference, viewer=g.user)
    if found is None:
        return render_template("requests/missing.html", reference=reference), 404
    clock = desk_clock(g.db, utcnow())
    internal = user_may(g.user, [Role.DISPATCHER])
    return render_template(
        "requests/show.html",
        service_request=found,
        clock=clock,
        open=is_open(found),
        internal=internal,
        history=request_history(g.db, found, clock=clock, internal=internal),
    )


@bp.post("/api/v1/requests")
@login_required(*INTAKE_ROLES)
def create_request_api() -> Any:
    """Raise a service request from JSON; 201 with its reference and its job's status and day,
    422 listing every bad field."""
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
        "job": {
            "reference": job.reference,
            "status": job.status.value,
            "service_date": _iso(job.service_date),
            "no_date_reason": job.no_date_reason,
        },
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


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None

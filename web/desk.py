"""The request desk: dispatchers recording phone calls and visitors, and the list of requests.

The form is the requester's form (``requests/_fields.html``) plus who called and how;
before recording, ``dispatch.desk`` looks for open requests at the same place, and the
form comes back listing them until the dispatcher records the call anyway.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from dispatch.db import utcnow
from dispatch.desk import (
    DESK_CHANNELS,
    DUPLICATE_WINDOW,
    Clock,
    DeskFilter,
    DeskPage,
    DuplicateSuspected,
    categories,
    desk_clock,
    desk_filter,
    desk_requests,
    record_desk_request,
)
from dispatch.enums import Channel, Priority, Role
from dispatch.geocoding import CachedGeocoder
from dispatch.intake import IntakeError, flat_submission
from dispatch.models import ServiceRequest
from mobile_api.http import GEOCODER_KEY, login_required
from web.requests import form_context, form_errors

#: The hidden field listing the likely duplicates the dispatcher was shown.
SEEN_FIELD = "seen_duplicates"
#: Most references that field may carry (one page of suggestions is far fewer).
MAX_SEEN = 50

bp = Blueprint("desk", __name__)


@bp.get("/desk")
@login_required(Role.DISPATCHER)
def request_list() -> Any:
    """Requests by resolution due with their SLA countdowns; filters and search."""
    clock = desk_clock(g.db, utcnow())
    try:
        filters = desk_filter(request.args)
    except IntakeError as exc:
        problems = {error.field: error.message for error in exc.errors}
        return _list_page(clock, DeskFilter(), problems, None), 422
    return _list_page(clock, filters, {}, desk_requests(g.db, filters))


def _list_page(
    clock: Clock, filters: DeskFilter, problems: dict[str, str], page: DeskPage | None
) -> str:
    """The list page; with ``problems`` (bad parameters by name) it shows those instead."""
    links = {}
    if page is not None:
        query = filters.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        if filters.page > 1:
            links["previous"] = url_for(".request_list", **{**query, "page": filters.page - 1})
        if filters.page < page.pages:
            links["next"] = url_for(".request_list", **{**query, "page": filters.page + 1})
    return render_template(
        "desk/index.html",
        clock=clock,
        filters=filters,
        args=request.args,
        problems=problems,
        page=page,
        links=links,
        priorities=list(Priority),
        channels=list(Channel),
        categories=categories(g.db),
    )


@bp.route("/desk/new", methods=["GET", "POST"])
@login_required(Role.DISPATCHER)
def new_call() -> Any:
    """Record a request taken on the phone or at the desk, for the caller."""
    errors: dict[str, str] = {}
    labels: dict[str, str] = {}
    duplicates: list[ServiceRequest] = []
    if request.method == "POST":
        seen = request.form.get(SEEN_FIELD, "").split()[:MAX_SEEN]
        try:
            created = _record(seen)
        except DuplicateSuspected as suspected:
            duplicates = suspected.duplicates
            g.db.commit()  # only the geocoder's answer, kept for the confirmation
        except IntakeError as exc:
            errors, labels = form_errors(exc)
        else:
            flash(f"Recorded {created.reference} for {created.requester_name}.")
            return redirect(url_for("requests.show_request", reference=created.reference))
    status = 422 if errors else 409 if duplicates else 200
    return render_template(
        "desk/new.html",
        **form_context(errors, labels),
        channels=DESK_CHANNELS,
        duplicates=duplicates,
        seen_field=SEEN_FIELD,
        window_days=DUPLICATE_WINDOW.days,
        clock=desk_clock(g.db, utcnow()),
    ), status


def _record(seen: list[str]) -> ServiceRequest:
    """Record the call and commit it; the caller is named by the form, not by an account."""
    submission = flat_submission(request.form)
    geocoder = CachedGeocoder(g.db, current_app.extensions[GEOCODER_KEY])
    created = record_desk_request(g.db, submission, geocoder=geocoder, now=utcnow(), seen=seen)
    g.db.commit()
    return created

"""Dispatcher pages: the day at a glance."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, url_for

from dispatch.days import latest_service_day, plannable_jobs, service_day, technicians_working
from dispatch.enums import Role
from mobile_api.http import login_required, user_may

bp = Blueprint("dispatcher", __name__)


@bp.get("/")
@login_required()
def index() -> Any:
    """Dispatchers open the most recent service day; requesters the request form."""
    if not user_may(g.user, [Role.DISPATCHER]):
        if g.user.has_role(Role.REQUESTER):
            return redirect(url_for("requests.new_request"))
        return render_template("home.html")
    latest = latest_service_day(g.db) or date.today()
    return redirect(url_for("dispatcher.day", day=latest.isoformat()))


@bp.get("/day/<day>")
@login_required(Role.DISPATCHER)
def day(day: str) -> Any:
    """Technicians on shift and the open jobs of one day."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    jobs = plannable_jobs(g.db, when)
    return render_template(
        "dispatcher/day.html",
        day=when,
        service_day=service_day(g.db, when),
        technicians=technicians_working(g.db, when),
        jobs=jobs,
        status_counts=Counter(job.status.value for job in jobs),
    )

"""Dispatcher pages: the day at a glance."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from dispatch.days import latest_service_day, plannable_jobs, service_day, technicians_working
from dispatch.enums import Role
from dispatch.models import Technician
from mobile_api.http import login_required, user_may
from web.plans_api import PLAN_ID_PATTERN

bp = Blueprint("dispatcher", __name__)


@bp.get("/")
@login_required()
def index() -> Any:
    """Dispatchers open the most recent service day's board, warehouse staff the stock,
    requesters the request form."""
    if not user_may(g.user, [Role.DISPATCHER]):
        if g.user.has_role(Role.WAREHOUSE):
            return redirect(url_for("warehouse.stock"))
        if g.user.has_role(Role.REQUESTER):
            return redirect(url_for("requests.new_request"))
        return render_template("home.html")
    latest = latest_service_day(g.db) or date.today()
    return redirect(url_for("dispatcher.board", day=latest.isoformat()))


@bp.get("/board/<day>")
@login_required(Role.DISPATCHER)
def board(day: str) -> Any:
    """The day's board: technicians' rows across the day, the unassigned jobs, proposals.

    The page is a frame; ``board.js`` reads the day from the plans API and follows the
    dispatchers' event stream.
    """
    when = _day(day)
    return render_template(
        "dispatcher/board.html",
        day=when,
        service_day=service_day(g.db, when),
        previous=when - timedelta(days=1),
        following=when + timedelta(days=1),
    )


@bp.get("/day/<day>")
@login_required(Role.DISPATCHER)
def day(day: str) -> Any:
    """Technicians on shift and the open jobs of one day."""
    when = _day(day)
    jobs = plannable_jobs(g.db, when)
    return render_template(
        "dispatcher/day.html",
        day=when,
        service_day=service_day(g.db, when),
        technicians=technicians_working(g.db, when),
        jobs=jobs,
        status_counts=Counter(job.status.value for job in jobs),
    )


@bp.get("/map/<day>")
@login_required(Role.DISPATCHER)
def day_map(day: str) -> Any:
    """The day's routes, jobs and warehouses on a map; no basemap unless one is configured.

    ``?plan=<id>`` shows one of the day's plans instead of the published one: a proposal
    before it is accepted.
    """
    when = _day(day)
    plan = request.args.get("plan")
    if plan is not None and not PLAN_ID_PATTERN.fullmatch(plan):
        abort(404)
    return render_template(
        "dispatcher/map.html",
        day=when,
        plan=plan,
        service_day=service_day(g.db, when),
        tiles=current_app.config["MAP_TILE_URL"],
        attribution=current_app.config["MAP_ATTRIBUTION"],
    )


@bp.get("/kpis")
@login_required(Role.DISPATCHER)
def kpis_page() -> Any:
    """KPIs over a date range, per day and per technician (the figures from the KPI API).

    The range defaults to the 14 days up to the latest service day.
    """
    end = latest_service_day(g.db) or date.today()
    return render_template(
        "dispatcher/kpis.html",
        start=end - timedelta(days=13),
        end=end,
        technicians=g.db.scalars(select(Technician).order_by(Technician.code)).all(),
    )


def _day(text: str) -> date:
    """A date in the path (YYYY-MM-DD), or 404."""
    try:
        found = date.fromisoformat(text)
    except ValueError:
        abort(404)
    if len(text) != 10:  # fromisoformat also reads week dates such as 2026W481
        abort(404)
    return found

"""Technician endpoints: the browser session or HTTP Basic for now; phone tokens come later."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, g, request
from werkzeug.exceptions import Forbidden

from dispatch.days import technician_jobs, technician_of_user
from dispatch.enums import Role
from dispatch.models import Job
from mobile_api.http import login_required, problem_response

bp = Blueprint("mobile_api", __name__, url_prefix="/api/mobile/v1")


@bp.get("/me/jobs")
@login_required(Role.TECHNICIAN)
def my_jobs() -> Any:
    """The signed-in technician's jobs on one day (``?date=YYYY-MM-DD``), in planned order."""
    technician = technician_of_user(g.db, g.user.id)
    if technician is None:
        raise Forbidden("this account is not linked to a technician")
    try:
        day = date.fromisoformat(request.args["date"])
    except (KeyError, ValueError):
        return problem_response(
            400, "Bad Request", "give the day as ?date=YYYY-MM-DD", errors=[{"field": "date"}]
        )
    return {
        "technician": technician.code,
        "date": day.isoformat(),
        "jobs": [_job(j) for j in technician_jobs(g.db, technician.id, day)],
    }


def _job(job: Job) -> dict[str, Any]:
    return {
        "reference": job.reference,
        "title": job.title,
        "status": job.status.value,
        "priority": job.priority.value,
        "planned_start": job.planned_start.isoformat() if job.planned_start else None,
        "planned_end": job.planned_end.isoformat() if job.planned_end else None,
        "location": {"lat": job.site.latitude, "lon": job.site.longitude},
        "address": job.site.address,
        "access_notes": job.site.access_notes,
        "parts": [{"sku": p.sku, "quantity": p.quantity} for p in job.parts],
    }

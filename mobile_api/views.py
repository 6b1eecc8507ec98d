"""Technician endpoints. Sign-in is the web session for now; phone tokens come later."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, g, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.enums import Role
from dispatch.models import Job, Technician
from mobile_api.problems import problem_response

bp = Blueprint("mobile_api", __name__, url_prefix="/api/mobile/v1")


@bp.get("/me/jobs")
def my_jobs() -> Any:
    """The signed-in technician's jobs on one day (``?date=YYYY-MM-DD``), in planned order."""
    user = g.get("user")
    if user is None:
        return problem_response(401, "Unauthorized", "sign in first")
    technician = g.db.scalar(select(Technician).where(Technician.user_id == user.id))
    if technician is None or not user.has_role(Role.TECHNICIAN):
        return problem_response(403, "Forbidden", "this account is not a technician")
    try:
        day = date.fromisoformat(request.args["date"])
    except (KeyError, ValueError):
        return problem_response(
            400, "Bad Request", "give the day as ?date=YYYY-MM-DD", errors=[{"field": "date"}]
        )
    jobs = g.db.scalars(
        select(Job)
        .where(Job.technician_id == technician.id, Job.service_date == day)
        .options(selectinload(Job.site), selectinload(Job.parts))
        .order_by(Job.planned_start, Job.id)
    )
    return {
        "technician": technician.code,
        "date": day.isoformat(),
        "jobs": [_job(j) for j in jobs],
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

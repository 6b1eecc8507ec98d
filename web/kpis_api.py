"""Dispatch key figures as JSON: ``GET /api/v1/kpis?from=YYYY-MM-DD&to=YYYY-MM-DD[&technician=CODE]``.

For dispatchers; the figures and what each means are ``dispatch.kpis``'s. Days are the
service area's; rates are fractions (0..1), null when there was nothing to judge.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from flask import Blueprint, Response, g, jsonify, request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from dispatch.enums import Role
from dispatch.kpis import Figures, KpiReport, Share, TechnicianKpis, UnknownTechnician, kpis
from mobile_api.http import field_errors, login_required, problem_response

bp = Blueprint("kpis_api", __name__, url_prefix="/api/v1/kpis")

#: Longest range one request may ask for, in days (both ends included).
MAX_DAYS = 366

#: A day in the query: ASCII digits only, YYYY-MM-DD.
DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class KpiQuery(BaseModel):
    """The query string: a range of days and, optionally, one technician."""

    model_config = ConfigDict(extra="forbid")

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    technician: Annotated[
        str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)
    ] = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _day(cls, value: object) -> date:
        if isinstance(value, str) and DAY_PATTERN.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass  # 2026-02-30: the shape of a date, but no day
        raise ValueError("must be a day as YYYY-MM-DD, like 2026-11-24")

    @field_validator("end")
    @classmethod
    def _range(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and start > end:
            raise ValueError("must not be before 'from'")
        if start is not None and (end - start).days + 1 > MAX_DAYS:
            raise ValueError(f"the range may span at most {MAX_DAYS} days")
        return end


@bp.get("")
@login_required(Role.DISPATCHER)
def report() -> Response:
    try:
        query = KpiQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        return problem_response(
            422, "Unprocessable Content", "the query is not valid", errors=field_errors(exc)
        )
    try:
        found = kpis(g.db, query.start, query.end, technician_code=query.technician)
    except UnknownTechnician:
        return problem_response(404, "Not Found", f"no technician {query.technician!r}")
    return jsonify(report_json(found))


def report_json(found: KpiReport) -> dict[str, Any]:
    return {
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
        "timezone": found.timezone,
        "technician": found.technician,
        "days": [{"day": d.day.isoformat(), **_figures_json(d.figures)} for d in found.days],
        "total": _figures_json(found.total),
        "technicians": [_technician_json(t) for t in found.technicians],
        "backlog": dict(found.backlog),
        "satisfaction": found.satisfaction,
    }


def _figures_json(figures: Figures) -> dict[str, Any]:
    plain = asdict(figures)
    for name in ("resolution_sla", "response_sla", "first_time_fix"):
        plain[name] = _share_json(getattr(figures, name))
    return plain


def _technician_json(technician: TechnicianKpis) -> dict[str, Any]:
    return asdict(technician) | {"on_time_arrival": _share_json(technician.on_time_arrival)}


def _share_json(share: Share) -> dict[str, Any]:
    return {"met": share.met, "total": share.total, "rate": share.rate}

"""The dispatchers' live feed: every feed entry as Server-Sent Events, under ``/api/v1/events``.

The dispatcher board opens it with ``EventSource`` (the browser sends the session
cookie); other clients may sign in with HTTP Basic. It is the technicians' stream
(:mod:`mobile_api.stream`) without the filter: every technician's entries, and those
that belong to nobody.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatch.enums import Role
from mobile_api.http import field_errors, login_required, problem_response
from mobile_api.stream import MAX_EVENT_ID, event_stream, resume_point

bp = Blueprint("events_api", __name__, url_prefix="/api/v1/events")


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_event_id: Annotated[int, Field(ge=0, le=MAX_EVENT_ID)] | None = None


@bp.get("")
@login_required(Role.DISPATCHER)
def events() -> Any:
    """Every feed entry from now on, or after ``Last-Event-ID`` / ``?last_event_id=``."""
    try:
        query = EventsQuery.model_validate(request.args.to_dict())
        resume = resume_point(request.headers.get("Last-Event-ID"), query.last_event_id)
    except ValidationError as exc:
        return problem_response(
            422, "Unprocessable Content", "see errors", errors=field_errors(exc)
        )
    except ValueError as exc:
        return problem_response(422, "Unprocessable Content", str(exc))
    return event_stream(current_app, technician_id=None, last_event_id=resume)

"""The dispatchers' live event stream: every feed entry as it commits (``/api/v1/events``).

The board's ``EventSource`` sends the session cookie; scripts may use HTTP Basic. The
stream is the technicians' stream (``mobile_api.events``) unfiltered.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from dispatch.enums import Role
from mobile_api.events import STREAM_HEADERS, event_stream, last_event_id
from mobile_api.http import login_required

bp = Blueprint("events_api", __name__, url_prefix="/api/v1")


@bp.get("/events")
@login_required(Role.DISPATCHER)
def events() -> Any:
    """Every change of the feed, live; ``Last-Event-ID`` resumes after the last one seen."""
    return event_stream(None, last_event_id()), 200, STREAM_HEADERS

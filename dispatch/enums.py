"""Fixed vocabularies of the dispatch domain, stored by value."""

from __future__ import annotations

from enum import StrEnum

# A job's priority means the same to the planner and to dispatch (the planner scores
# unassigned jobs by it): one vocabulary, the optimizer's.
from optimizer import Priority

__all__ = [
    "Channel",
    "HoldReason",
    "JobStatus",
    "Level",
    "PlanStatus",
    "Priority",
    "Role",
    "RunState",
]


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    TECHNICIAN = "technician"
    WAREHOUSE = "warehouse"
    REQUESTER = "requester"
    ADMIN = "admin"


class Channel(StrEnum):
    """How a service request reached us."""

    WEB = "web"
    EMAIL = "email"
    PHONE = "phone"
    API = "api"
    MOBILE = "mobile"


class Level(StrEnum):
    """Impact and urgency levels of a request (ITIL style)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class JobStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANNOT_COMPLETE = "cannot_complete"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"


class HoldReason(StrEnum):
    AWAITING_PARTS = "awaiting_parts"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_CUSTOMER = "awaiting_customer"


class RunState(StrEnum):
    """Where an optimization run of a service day stands (``dispatch.planning.runs``)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PlanStatus(StrEnum):
    """Where a plan of a service day stands (``dispatch.planning.proposals``).

    A run's result is proposed; publishing makes it the day's plan and supersedes the
    one before; a dispatcher may discard a proposal instead.
    """

    PROPOSED = "proposed"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"

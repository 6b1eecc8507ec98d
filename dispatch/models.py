"""Persistent model of the dispatch domain (SQLAlchemy 2.x typed declarative).

Instants are aware UTC datetimes (``UTCDateTime``); clock times of a working day
(shifts, breaks) are naive ``time`` values in the service day's time zone.
Parts are referred to by SKU and stock by the inventory package's own tables:
no relationship crosses from dispatch into inventory.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dbtypes import BigIntPK, str_enum
from dispatch.db import Base, utcnow
from dispatch.enums import (
    Channel,
    HoldReason,
    JobStatus,
    Level,
    PlanStatus,
    Priority,
    Role,
    RunState,
)


class User(Base):
    """Someone who signs in: dispatcher, technician, warehouse clerk, requester or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def has_role(self, role: Role) -> bool:
        return any(r.role == role for r in self.roles)


class UserSession(Base):
    """One sign-in: the browser's cookie carries a random token, this row its SHA-256.

    A row per sign-in rather than a per-user "session epoch": signing out ends exactly
    this browser's session (other devices stay signed in), a password change deletes
    every row of the user, and a stolen database holds no usable tokens.
    """

    __tablename__ = "user_sessions"
    __audited__ = False  # sign-ins are not domain changes, and tokens stay out of the log

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sites: Mapped[list[Site]] = relationship(back_populates="customer")


class Site(Base):
    """A place where work is done; the coordinates the planner routes to."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float]
    longitude: Mapped[float]
    access_notes: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))

    customer: Mapped[Customer | None] = relationship(back_populates="sites")


class CatalogItem(Base):
    """A kind of service we offer, with the defaults triage applies to a request."""

    __tablename__ = "catalog_items"
    __table_args__ = (CheckConstraint("default_duration_min > 0", name="positive_duration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(80))
    default_duration_min: Mapped[int]
    required_skills: Mapped[list[str]] = mapped_column(default=list)
    typical_parts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # SKU -> quantity
    requires_approval: Mapped[bool] = mapped_column(default=False)
    # Requests for it wait in the triage queue for a dispatcher instead of being triaged
    # at intake (work whose skills, duration or parts depend on a look at the request).
    manual_triage: Mapped[bool] = mapped_column(default=False)
    # The steps a technician works through on site, in order (shown on the phone).
    checklist: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)

    sla_targets: Mapped[list[SlaTarget]] = relationship(
        back_populates="catalog_item", cascade="all, delete-orphan", lazy="selectin"
    )

    def sla_for(self, priority: Priority) -> SlaTarget | None:
        return next((t for t in self.sla_targets if t.priority == priority), None)


class SlaTarget(Base):
    """Response and resolution targets of one catalog item at one priority."""

    __tablename__ = "sla_targets"
    __table_args__ = (
        CheckConstraint("response_minutes > 0", name="positive_response"),
        CheckConstraint(
            "resolution_minutes >= response_minutes", name="resolution_after_response"
        ),
    )

    catalog_item_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="CASCADE"), primary_key=True
    )
    priority: Mapped[Priority] = mapped_column(str_enum(Priority), primary_key=True)
    response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]

    catalog_item: Mapped[CatalogItem] = relationship(back_populates="sla_targets")


class ServiceRequest(Base):
    """What a customer or colleague asked for, as received and triaged."""

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    requester_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str | None] = mapped_column(String(254))
    requester_phone: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Impact and urgency are unset when a priority was given directly (scenario import,
    # dispatcher override).
    impact: Mapped[Level | None] = mapped_column(str_enum(Level, "impact"))
    urgency: Mapped[Level | None] = mapped_column(str_enum(Level, "urgency"))
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    sla_response_due: Mapped[datetime | None]
    sla_resolution_due: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship()
    catalog_item: Mapped[CatalogItem | None] = relationship()
    jobs: Mapped[list[Job]] = relationship(back_populates="request", order_by="Job.id")


class Technician(Base):
    """A person in the field: skills, where the day starts and ends, break rule."""

    __tablename__ = "technicians"
    __table_args__ = (
        CheckConstraint("break_minutes IS NULL OR break_minutes > 0", name="positive_break"),
        CheckConstraint(
            "(break_earliest IS NULL) = (break_latest IS NULL)"
            " AND (break_earliest IS NULL) = (break_minutes IS NULL)",
            name="break_rule_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    skills: Mapped[list[str]] = mapped_column(default=list)
    home_latitude: Mapped[float]
    home_longitude: Mapped[float]
    # Where the working day ends when that is not home (a second depot, say).
    end_latitude: Mapped[float | None]
    end_longitude: Mapped[float | None]
    break_earliest: Mapped[time | None]
    break_latest: Mapped[time | None]
    break_minutes: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    working_hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="technician", cascade="all, delete-orphan", order_by="WorkingHours.weekday"
    )
    days_off: Mapped[list[DayOff]] = relationship(
        back_populates="technician", cascade="all, delete-orphan", order_by="DayOff.day"
    )

    def shift_on(self, day: date) -> WorkingHours | None:
        """The shift worked on ``day``, or None on a weekday off or a day off."""
        if any(off.day == day for off in self.days_off):
            return None
        return next((h for h in self.working_hours if h.weekday == day.weekday()), None)


class WorkingHours(Base):
    """The shift a technician works on one weekday (0 = Monday)."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="start_before_end"),
    )

    technician_id: Mapped[int] = mapped_column(
        ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(primary_key=True)
    start_time: Mapped[time]
    end_time: Mapped[time]

    technician: Mapped[Technician] = relationship(back_populates="working_hours")


class DayOff(Base):
    __tablename__ = "days_off"

    technician_id: Mapped[int] = mapped_column(
        ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")

    technician: Mapped[Technician] = relationship(back_populates="days_off")


class ServiceDay(Base):
    """A day the dispatchers plan: its local time zone and the travel-time rule.

    Job windows and shifts of that day are read in this time zone.
    """

    __tablename__ = "service_days"
    __table_args__ = (
        CheckConstraint("travel_speed_kmh > 0", name="positive_speed"),
        CheckConstraint("travel_circuity >= 1", name="circuity_at_least_one"),
    )

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    travel_model: Mapped[str] = mapped_column(String(20), default="geodesic")
    travel_speed_kmh: Mapped[float]
    travel_circuity: Mapped[float]


class Job(Base):
    """On-site work that gets scheduled: one visit by one technician."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("duration_min > 0", name="positive_duration"),
        CheckConstraint(
            "window_start IS NULL OR window_end IS NULL OR window_start < window_end",
            name="window_ordered",
        ),
        CheckConstraint(
            "planned_start IS NULL OR planned_end IS NULL OR planned_start <= planned_end",
            name="planned_ordered",
        ),
        Index("ix_jobs_status_service_date", "status", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.NEW)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority))
    duration_min: Mapped[int]
    required_skills: Mapped[list[str]] = mapped_column(default=list)
    service_date: Mapped[date | None]  # the day it is planned for, once known
    # Why no service date could be chosen for it (dispatch.service_dates), shown to dispatchers.
    no_date_reason: Mapped[str | None] = mapped_column(Text)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    sla_due: Mapped[datetime | None]
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"), index=True)
    pinned_technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"))
    planned_start: Mapped[datetime | None]
    planned_end: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    hold_reason: Mapped[HoldReason | None] = mapped_column(str_enum(HoldReason))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optimistic concurrency: a stale write raises StaleDataError instead of losing an update.
    version: Mapped[int] = mapped_column(default=1)

    request: Mapped[ServiceRequest] = relationship(back_populates="jobs")
    site: Mapped[Site] = relationship()
    technician: Mapped[Technician | None] = relationship(foreign_keys=[technician_id])
    pinned_technician: Mapped[Technician | None] = relationship(
        foreign_keys=[pinned_technician_id]
    )
    parts: Mapped[list[JobPart]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobPart.position"
    )
    follow_up_of: Mapped[Job | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (read by SQLAlchemy, never mutated)


class JobPart(Base):
    """A part (by SKU) and quantity a job needs."""

    __tablename__ = "job_parts"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive_quantity"),)

    job_id: Mapped[int] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    quantity: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)  # keeps the order the parts were listed in

    job: Mapped[Job] = relationship(back_populates="parts")


class Event(Base):
    """One entry of the append-only log of every change: who, when, what, old -> new.

    Written by ``dispatch.audit`` in the same transaction as the change; database
    triggers refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_entity", "entity_type", "entity_id"),)
    __audited__ = False

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: outlives users
    actor: Mapped[str] = mapped_column(String(120))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(20))  # created | updated | deleted
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)  # field -> [old, new]


class GeocodeCache(Base):
    """Answers of the geocoding service, so an address is looked up once."""

    __tablename__ = "geocode_cache"
    __audited__ = False

    query: Mapped[str] = mapped_column(String(500), primary_key=True)  # normalized query
    latitude: Mapped[float]
    longitude: Mapped[float]
    display_name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferenceCounter(Base):
    """Last number handed out per reference series (e.g. ``SR-2026``)."""

    __tablename__ = "reference_counters"
    __audited__ = False

    series: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


#: Condition of the partial unique index that allows one active run per service day.
ACTIVE_RUN_CONDITION = "state IN ('queued', 'running')"


class PlanRun(Base):
    """One optimization of a service day: its state and the best plan found so far.

    The database allows at most one queued or running run per day (a partial unique
    index), so two dispatchers asking at once cannot start two solves of the same day.
    Not audited: the search reports progress many times a second, and the row keeps its
    own history (who asked, when it started and ended, why it failed).
    """

    __tablename__ = "plan_runs"
    __table_args__ = (
        CheckConstraint("time_limit_s > 0", name="positive_time_limit"),
        Index(
            "ix_plan_runs_one_active_per_day",
            "service_date",
            unique=True,
            sqlite_where=text(ACTIVE_RUN_CONDITION),
            postgresql_where=text(ACTIVE_RUN_CONDITION),
        ),
    )
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    service_date: Mapped[date]
    state: Mapped[RunState] = mapped_column(str_enum(RunState), default=RunState.QUEUED)
    # Who asked; None when the scheduler did.
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    time_limit_s: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The best plan found so far (lower scores are better), as the search reports it.
    best_score: Mapped[float | None]
    served: Mapped[int | None]
    elapsed_s: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Why the run was asked for ("nightly plan", "emergency SR-2026-00042"...), for the board.
    reason: Mapped[str] = mapped_column(String(200), default="")
    # A re-plan starts from the day's published plan and keeps its jobs with their technicians
    # where it can; a plan (the evening before) starts afresh.
    replan: Mapped[bool] = mapped_column(default=False)
    # Publish the proposal as soon as it is ready (the re-planning policy for urgent
    # events); otherwise it waits for a dispatcher.
    auto_publish: Mapped[bool] = mapped_column(default=False)
    # Last sign of life from the worker running it: a running run whose heartbeat stops is
    # failed by the reconciler (dispatch.planning.jobqueue), never left running forever.
    heartbeat_at: Mapped[datetime | None]
    # The job queue's id for it (procrastinate's job id on PostgreSQL), once enqueued.
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)


class Plan(Base):
    """One plan of a service day: a run's proposal, or a published version of the day's plan.

    ``document`` is the plan in ``fieldops-plan/1`` (routes with planned times, warehouse
    stops and pick-ups, unassigned jobs with their reasons); ``summary`` its figures and
    ``diff`` how it differs from the published plan it was built on (``base_version``).
    Not audited: the document is large, and the jobs it changes are audited when published.
    """

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("base_version >= 0", name="base_version_not_negative"),
        Index("ix_plans_service_date_status", "service_date", "status"),
    )
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    service_date: Mapped[date]
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.PROPOSED)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan_runs.id", ondelete="SET NULL"), unique=True
    )
    # The day's published version this plan was built on; 0 when nothing was published.
    base_version: Mapped[int]
    # The day's version this plan became when published (manual edits publish directly).
    version: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(200), default="")
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]  # published or discarded
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DayPlan(Base):
    """The published plan of a service day and its version, the ETag of ``/api/v1/plans``.

    Every publish and every manual edit moves ``version`` on by one with a conditional
    UPDATE (``WHERE version = <the one the change was built on>``): of two dispatchers
    changing the same day at once, exactly one wins and the other is told (409).
    """

    __tablename__ = "day_plans"
    __table_args__ = (CheckConstraint("version > 0", name="positive_version"),)
    __audited__ = False

    service_date: Mapped[date] = mapped_column(primary_key=True)
    version: Mapped[int]
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

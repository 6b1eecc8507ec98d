"""Live re-planning: what happens during the day asks for a re-plan of the published plan.

A re-plan run starts from the day's published plan, keeps jobs under way where they are
and moves as few dispatched jobs between technicians as it can (the run's execution gives
the optimizer the published assignment as its incumbent). What asks for one:

- a new emergency or high-priority job for a day with a published plan, and a job
  cancelled from one: found by the SLA watch each minute (``replan_on_changes``), so
  that every path that makes such a change (web, API, CSV, phones) is seen, and intake
  and the lifecycle need no hook;
- a technician unavailable: ``technician_unavailable``, the service that records it;
- a job overrunning, or predicted to miss its SLA (``dispatch.planning.watch``).

Whether the proposal publishes itself depends on the priority of the job the event is
about (``ReplanPolicy``); otherwise it waits for a dispatcher.

Each request is written to the event log (entity ``replan``, id the day): ``requested``
(a new run), ``joined`` (a queued run, which has not read the day yet, will see the
change) or ``deferred`` (a run is solving the day from what it read before: another is
owed once it ends, and ``settle_deferred``, run by the watch, asks for it). The trigger
named in each entry is what makes an event ask only once.

Functions change rows and flush; the caller's transaction commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.audit import SYSTEM_ACTOR
from dispatch.days import latest_service_day, service_area_zone, technicians_working
from dispatch.enums import JobStatus, PlanStatus, Priority, RunState
from dispatch.lifecycle import transition
from dispatch.models import DayOff, DayPlan, Event, Job, Plan, PlanRun, ServiceDay, Technician
from dispatch.planning.jobqueue import enqueue
from dispatch.planning.policy import ReplanPolicy, most_urgent
from dispatch.planning.proposals import assignments, published
from dispatch.planning.runs import RunInProgress, active_run

#: ``Event.entity_type`` of the log of re-plan requests (``Event.entity_id``: the day).
REPLAN_EVENT = "replan"
#: ``Event.entity_type`` of the alerts for dispatchers (``Event.entity_id``: the job's id).
ALERT_EVENT = "alert"
#: Alert: work on site was stopped because the technician became unavailable.
WORK_STOPPED = "work_stopped"

#: New jobs of these priorities re-plan a published day at once; others wait for the next
#: plan (or a dispatcher), since each re-plan may move dispatched work around.
NEW_JOB_PRIORITIES = frozenset({Priority.EMERGENCY, Priority.HIGH})
NIGHTLY_REASON = "nightly plan"
#: How many days after today the nightly plan looks for the next day someone works.
NEXT_WORKING_DAY_HORIZON = 14
#: Tries to queue a re-plan when the day's active run ends between the try and the look.
_REQUEST_ATTEMPTS = 3
_REASON_LENGTH = 200  # PlanRun.reason

#: Jobs whose technician is at the site: they end no sooner than now, and only from there.
AT_SITE = frozenset({JobStatus.ON_SITE, JobStatus.PAUSED})
#: Undoing a job's assignment, one lifecycle step at a time: turned back, recalled,
#: unscheduled; a triaged job keeps its service date, so the re-plan places it again.
_STEP_BACK = {
    JobStatus.EN_ROUTE: JobStatus.DISPATCHED,
    JobStatus.DISPATCHED: JobStatus.SCHEDULED,
    JobStatus.SCHEDULED: JobStatus.TRIAGED,
}


@dataclass(frozen=True, slots=True)
class Replan:
    """One event's re-plan request: the day, what asked, and the run that will see it.

    ``run_id`` is None when the request was deferred (a run was solving the day already).
    """

    day: date
    trigger: str
    reason: str
    priority: Priority
    run_id: int | None


@dataclass(frozen=True, slots=True)
class Unavailability:
    """What ``technician_unavailable`` did."""

    day_off_recorded: bool  # False when the day off was on record already
    returned: tuple[str, ...]  # jobs not started, back to triaged to be planned again
    stopped: tuple[str, ...]  # jobs on site (or paused there), ended as cannot_complete
    follow_ups: tuple[str, ...]  # their follow-up jobs, triaged for the same day
    replan: Replan | None  # None when nothing of a published plan changed


def enqueue_run(
    session: Session,
    day: date,
    *,
    time_limit_s: int,
    reason: str,
    replan: bool,
    auto_publish: bool,
) -> PlanRun:
    """Queue a run of ``day`` that no dispatcher asked for: the one place this module does.

    Through the job queue (``jobqueue.enqueue``): on PostgreSQL its queue job is written in
    the caller's transaction.

    Raises
    ------
    RunInProgress
        The day has an active run.
    """
    return enqueue(
        session,
        day,
        time_limit_s=time_limit_s,
        requested_by=None,
        reason=reason[:_REASON_LENGTH],
        replan=replan,
        auto_publish=auto_publish,
    )


def request_replan(
    session: Session,
    day: date,
    reason: str,
    priority: Priority,
    *,
    policy: ReplanPolicy = ReplanPolicy(),
    trigger: str | None = None,
    covers: Collection[str] = (),
) -> PlanRun | None:
    """Ask for a re-plan of ``day`` from its published plan, for an event of ``priority``.

    With no active run, a re-plan run is queued. A queued run has not read the day yet
    and will see the change: it is joined (and told to publish itself if this priority's
    policy says so). A running run read the day before the change: the request is
    deferred, and ``settle_deferred`` queues the re-plan once that run has ended. The
    run is locked while this is decided, so it cannot end before the deferral is
    committed (a later run then always sees this change).

    Parameters
    ----------
    reason
        Why, shown on the run and its proposal ("emergency J-0042").
    priority
        The priority of the job the event is about; the policy decides from it whether
        the proposal publishes itself.
    trigger
        What asked (``"added:42"``), kept in the log so the same event asks only once.
    covers
        Triggers this request answers too, which therefore never ask themselves (the
        follow-up jobs a technician's absence creates, say).

    Returns
    -------
    PlanRun | None
        The run that will see the change (new or joined), or None when deferred.
    """
    auto_publish = priority in policy.auto_publish
    entry = {
        "reason": reason,
        "priority": priority.value,
        "trigger": trigger,
        "covers": sorted(covers),
    }
    for _ in range(_REQUEST_ATTEMPTS):
        try:
            run = enqueue_run(
                session,
                day,
                time_limit_s=policy.time_limit_s,
                reason=reason,
                replan=True,
                auto_publish=auto_publish,
            )
        except RunInProgress as busy:
            active = session.get(
                PlanRun, busy.run_id, with_for_update=True, populate_existing=True
            )
            if active is None or active.state not in (RunState.QUEUED, RunState.RUNNING):
                continue  # it ended between the try and the look: the day is free again
            if active.state == RunState.RUNNING:
                break
            active.auto_publish = active.auto_publish or auto_publish
            active.reason = f"{active.reason}; {reason}"[:_REASON_LENGTH]
            log_event(session, REPLAN_EVENT, day.isoformat(), "joined", run_id=active.id, **entry)
            session.flush()
            return active
        else:
            log_event(session, REPLAN_EVENT, day.isoformat(), "requested", run_id=run.id, **entry)
            session.flush()
            return run
    log_event(session, REPLAN_EVENT, day.isoformat(), "deferred", run_id=None, **entry)
    session.flush()
    return None


def settle_deferred(
    session: Session,
    *,
    now: datetime,
    policy: ReplanPolicy = ReplanPolicy(),
) -> list[Replan]:
    """Queue the re-plans owed to days whose deferring run has ended (run each minute).

    A day owes one when its latest ``deferred`` entry is newer than its latest
    ``requested`` or ``joined`` one. The re-plan carries the deferred reasons and the most
    urgent of their priorities.
    """
    today = now.astimezone(service_area_zone(session)).date()
    latest: dict[str, dict[str, int]] = {}
    for day_text, action, last_id in session.execute(
        select(Event.entity_id, Event.action, func.max(Event.id))
        .where(Event.entity_type == REPLAN_EVENT, Event.entity_id >= today.isoformat())
        .group_by(Event.entity_id, Event.action)
    ):
        latest.setdefault(day_text, {})[action] = last_id
    settled = []
    for day_text, last in sorted(latest.items()):
        served = max(last.get("requested", 0), last.get("joined", 0))
        day = date.fromisoformat(day_text)
        if last.get("deferred", 0) <= served or active_run(session, day) is not None:
            continue
        owed = session.scalars(
            select(Event.changes).where(
                Event.entity_type == REPLAN_EVENT,
                Event.entity_id == day_text,
                Event.action == "deferred",
                Event.id > served,
            )
        ).all()
        reason = "; ".join(dict.fromkeys(entry["reason"] for entry in owed))
        priority = most_urgent(Priority(entry["priority"]) for entry in owed)
        run = request_replan(session, day, reason, priority, policy=policy, trigger="deferred")
        settled.append(Replan(day, "deferred", reason, priority, run.id if run else None))
    return settled


def replan_on_changes(
    session: Session,
    *,
    now: datetime,
    policy: ReplanPolicy = ReplanPolicy(),
) -> list[Replan]:
    """Re-plan published days, from today on, that gained an urgent job or lost a job.

    An emergency or high-priority triaged job that the published plan does not know
    (neither routed nor left out) asks for a re-plan; so does a cancelled job the
    published plan routes. Each job asks once.
    """
    today = now.astimezone(service_area_zone(session)).date()
    candidates = session.scalars(
        select(Job)
        .join(DayPlan, DayPlan.service_date == Job.service_date)
        .where(
            Job.service_date >= today,
            (Job.status == JobStatus.CANCELLED)
            | ((Job.status == JobStatus.TRIAGED) & Job.priority.in_(NEW_JOB_PRIORITIES)),
        )
        .order_by(Job.service_date, Job.id)
    ).all()
    if not candidates:
        return []
    days = {job.service_date for job in candidates if job.service_date is not None}
    handled = handled_triggers(session, days)
    known: dict[date, tuple[set[str], set[str]]] = {}
    replans = []
    for job in candidates:
        assert job.service_date is not None  # joined on it
        if job.service_date not in known:
            known[job.service_date] = _published_jobs(session, job.service_date)
        routed, left_out = known[job.service_date]
        if job.status == JobStatus.CANCELLED:
            trigger, wanted = f"cancelled:{job.id}", job.reference in routed
            reason = f"job {job.reference} cancelled"
        else:
            trigger = _added(job)
            wanted = job.reference not in routed and job.reference not in left_out
            reason = f"new {job.priority.value} job {job.reference}"
        if wanted and trigger not in handled:
            replans.append(
                replan_once(session, job.service_date, trigger, reason, job.priority, policy)
            )
            handled.add(trigger)
    return replans


def replan_once(
    session: Session,
    day: date,
    trigger: str,
    reason: str,
    priority: Priority,
    policy: ReplanPolicy,
    covers: Collection[str] = (),
) -> Replan:
    """``request_replan`` for an event the caller checked has not asked before."""
    run = request_replan(
        session, day, reason, priority, policy=policy, trigger=trigger, covers=covers
    )
    return Replan(day, trigger, reason, priority, run.id if run else None)


def handled_triggers(session: Session, days: Collection[date]) -> set[str]:
    """The triggers that have asked for a re-plan of ``days`` already."""
    entries = session.scalars(
        select(Event.changes).where(
            Event.entity_type == REPLAN_EVENT,
            Event.entity_id.in_([day.isoformat() for day in days]),
        )
    )
    return {
        trigger
        for entry in entries
        for trigger in [entry.get("trigger"), *entry.get("covers", [])]
        if trigger
    }


def technician_unavailable(
    session: Session,
    technician: Technician,
    day: date,
    reason: str,
    *,
    policy: ReplanPolicy = ReplanPolicy(),
) -> Unavailability:
    """Record that ``technician`` cannot work on ``day`` and re-plan their jobs.

    The day off is recorded (kept when on record already). Their jobs of the day not yet
    begun on site go back to triaged, step by step through the lifecycle (an en-route job
    is turned back, a dispatched one recalled, a scheduled one unscheduled), keeping
    their service date. A job on site (or paused there) ends as ``cannot_complete`` with
    the reason, and its follow-up is triaged for the same day with an alert for the
    dispatchers: the work goes on with someone else without anyone having to release
    it, and no job under way is left with a technician who is not working
    (``build_problem`` refuses such a day). A paused job is resumed first, as the
    lifecycle ends work only from on site. When the day has a published plan, a re-plan
    is requested, at the most urgent of the priorities of the jobs moved.

    Raises
    ------
    ValueError
        ``reason`` is blank or longer than 200 characters.
    """
    if not reason.strip() or len(reason) > _REASON_LENGTH:
        raise ValueError(
            f"say why the technician is unavailable, in 1 to {_REASON_LENGTH} characters"
        )
    recorded = all(off.day != day for off in technician.days_off)
    if recorded:  # through the collection, so this session's shift_on sees it at once
        technician.days_off.append(DayOff(day=day, reason=reason))
    jobs = session.scalars(
        select(Job)
        .where(
            Job.technician_id == technician.id,
            Job.service_date == day,
            Job.status.in_([*_STEP_BACK, *AT_SITE]),
        )
        .order_by(Job.planned_start, Job.id)
    ).all()
    returned, stopped, follow_ups = [], [], []
    note = f"technician {technician.code} unavailable: {reason}"
    for job in jobs:
        if job.status in AT_SITE:
            follow_up = _stop_work(session, job, note)
            follow_up.service_date = day
            stopped.append(job)
            follow_ups.append(follow_up)
            log_event(
                session,
                ALERT_EVENT,
                str(job.id),
                WORK_STOPPED,
                job=job.reference,
                since=None,
                message=(
                    f"job {job.reference} was on site with {technician.code}, who is"
                    f" unavailable ({reason}): it ended as cannot complete, and its follow-up"
                    f" {follow_up.reference} is to be planned on {day.isoformat()}"
                ),
            )
        else:
            while job.status in _STEP_BACK:
                target = _STEP_BACK[job.status]
                kept = _assignment(job) if target == JobStatus.SCHEDULED else {}
                transition(session, job, target, **kept)
            returned.append(job)
    session.flush()
    replan = None
    moved = [*returned, *stopped]
    if moved and published(session, day) is not None:
        replan = replan_once(
            session,
            day,
            f"unavailable:{technician.id}",
            note,
            most_urgent(job.priority for job in moved),
            policy,
            covers=[_added(follow_up) for follow_up in follow_ups],
        )
    return Unavailability(
        day_off_recorded=recorded,
        returned=tuple(job.reference for job in returned),
        stopped=tuple(job.reference for job in stopped),
        follow_ups=tuple(job.reference for job in follow_ups),
        replan=replan,
    )


def plan_next_working_day(session: Session, *, now: datetime, time_limit_s: int) -> PlanRun | None:
    """The nightly plan: queue a run for the next day after today that someone works.

    Nothing is queued when no day in the next two weeks has a technician working, when
    that day is published already, has a proposal waiting for a dispatcher or an active
    run (so a second firing, or a restart, asks once), or when no service day has ever
    been set up (its time zone and travel rule are unknown). A missing service day for
    the date is created from the latest one's settings. The proposal waits for a
    dispatcher.
    """
    if latest_service_day(session) is None:
        return None
    today = now.astimezone(service_area_zone(session)).date()
    day = next(
        (
            today + timedelta(days=n)
            for n in range(1, NEXT_WORKING_DAY_HORIZON + 1)
            if technicians_working(session, today + timedelta(days=n))
        ),
        None,
    )
    if day is None or published(session, day) is not None or active_run(session, day):
        return None
    waiting = session.scalar(
        select(Plan.id).where(Plan.service_date == day, Plan.status == PlanStatus.PROPOSED)
    )
    if waiting is not None:
        return None
    _ensure_service_day(session, day)
    try:
        return enqueue_run(
            session,
            day,
            time_limit_s=time_limit_s,
            reason=NIGHTLY_REASON,
            replan=False,
            auto_publish=False,
        )
    except RunInProgress:
        return None  # a dispatcher asked for one meanwhile


def log_event(
    session: Session, entity_type: str, entity_id: str, action: str, **changes: Any
) -> None:
    """Write one entry of the event log as the session's actor (the scheduler, a user)."""
    user_id, actor = session.info.get("actor", (None, SYSTEM_ACTOR))
    session.add(
        Event(
            actor_user_id=user_id,
            actor=actor,
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=changes,
        )
    )


def _added(job: Job) -> str:
    """The trigger of a new job: the same whoever notices it."""
    return f"added:{job.id}"


def _published_jobs(session: Session, day: date) -> tuple[set[str], set[str]]:
    """The jobs the day's published plan routes, and those it leaves out."""
    current = published(session, day)
    if current is None:
        return set(), set()
    document = current[1].document
    routed = {job for jobs in assignments(document).values() for job in jobs}
    return routed, {entry["id"] for entry in document["unassigned"]}


def _stop_work(session: Session, job: Job, note: str) -> Job:
    if job.status == JobStatus.PAUSED:
        transition(session, job, JobStatus.ON_SITE)
    follow_up = transition(session, job, JobStatus.CANNOT_COMPLETE, note=note)
    assert follow_up is not None  # cannot_complete always makes one
    return follow_up


def _assignment(job: Job) -> dict[str, Any]:
    return {
        "technician_id": job.technician_id,
        "planned_start": job.planned_start,
        "planned_end": job.planned_end,
    }


def _ensure_service_day(session: Session, day: date) -> None:
    if session.get(ServiceDay, day) is not None:
        return
    latest = latest_service_day(session)
    settings = session.get(ServiceDay, latest)
    assert settings is not None  # the caller checked that one exists
    session.add(
        ServiceDay(
            day=day,
            name=settings.name,
            timezone=settings.timezone,
            travel_model=settings.travel_model,
            travel_speed_kmh=settings.travel_speed_kmh,
            travel_circuity=settings.travel_circuity,
        )
    )
    session.flush()

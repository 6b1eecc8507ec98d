"""The SLA watch and the reminders: run by the scheduler, callable with any ``now``.

The watch predicts when each planned job of today (in the service area's time zone)
will finish: the published plan's times, which publishing wrote on the jobs, shifted by
what has happened since. A job on site past its planned end is still going at ``now``
and pushes its technician's later jobs by as much; a job not started by its planned
start (the technician is late, or not even on the way) starts at ``now`` at the
earliest. The forecast lets no slack of the plan absorb a delay (it warns early there)
and leaves out the travel still ahead of a late technician (it warns late there).

Then, once per job: a job predicted to finish after its SLA due is escalated (priority
raised one level, an alert for the dispatchers, a re-plan); a job on site more than
``OVERRUN_GRACE`` past its planned end, with jobs after it, asks for a re-plan. The same
minute also queues owed re-plans and those that new or cancelled jobs ask for
(``dispatch.planning.live``).

Reminders are alerts about jobs stuck in a state (``Thresholds``), once per job and
instant it got stuck. Alerts are ``Event`` rows of type ``alert`` (entity id: the job's
id, action: the kind), written in the same transaction as what they report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.days import service_area_zone
from dispatch.enums import JobStatus, Priority
from dispatch.models import Event, Job
from dispatch.planning.live import (
    ALERT_EVENT,
    AT_SITE,
    Replan,
    handled_triggers,
    log_event,
    replan_on_changes,
    replan_once,
    settle_deferred,
)
from dispatch.planning.policy import ReplanPolicy, most_urgent

S = JobStatus

#: Alert: a job is predicted to finish after its SLA due, and was escalated.
SLA_RISK = "sla_risk"
#: Reminders: a request waits for triage, a job about to start is not dispatched, a job
#: has stayed paused.
UNTRIAGED = "untriaged"
NOT_DISPATCHED = "not_dispatched"
PAUSED_LONG = "paused_long"

#: A job on site this long past its planned end is overrunning: its technician's later
#: jobs are re-planned. Short overruns are common and make up time later in the day.
OVERRUN_GRACE = timedelta(minutes=10)

#: Jobs the published plan has placed, in their order of progress.
_PLANNED = (S.SCHEDULED, S.DISPATCHED, S.EN_ROUTE, S.ON_SITE, S.PAUSED)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a job counts as stuck."""

    untriaged_after: timedelta = timedelta(hours=2)  # new, in the triage queue
    dispatch_before: timedelta = timedelta(minutes=30)  # scheduled, start this close
    paused_after: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Forecast:
    """When a planned job is predicted to start and finish, at the earliest."""

    job_id: int
    reference: str
    technician_id: int
    status: JobStatus
    priority: Priority
    start: datetime
    end: datetime
    planned_end: datetime
    sla_due: datetime | None

    @property
    def delay(self) -> timedelta:
        """How much later than planned it is predicted to finish."""
        return self.end - self.planned_end

    @property
    def breaches_sla(self) -> bool:
        return self.sla_due is not None and self.end > self.sla_due


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert written for the dispatchers."""

    kind: str
    job: str
    message: str


@dataclass(frozen=True, slots=True)
class WatchReport:
    """What one run of the watch did."""

    replans: list[Replan] = field(default_factory=list)
    escalated: list[Alert] = field(default_factory=list)


def forecast(session: Session, day: date, *, now: datetime) -> list[Forecast]:
    """Each planned open job of ``day``, by technician and planned start, with its forecast."""
    jobs = session.scalars(
        select(Job)
        .where(
            Job.service_date == day,
            Job.status.in_(_PLANNED),
            Job.technician_id.is_not(None),
            Job.planned_start.is_not(None),
            Job.planned_end.is_not(None),
        )
        .order_by(Job.technician_id, Job.planned_start, Job.id)
    )
    forecasts: list[Forecast] = []
    technician_id, push = None, timedelta(0)
    for job in jobs:
        assert job.technician_id and job.planned_start and job.planned_end  # selected so
        if job.technician_id != technician_id:
            technician_id, push = job.technician_id, timedelta(0)
        start = job.planned_start + push
        if job.status in AT_SITE:
            end = max(job.planned_end + push, now)
        else:
            start = max(start, now)
            end = start + (job.planned_end - job.planned_start)
        push = end - job.planned_end
        forecasts.append(
            Forecast(
                job_id=job.id,
                reference=job.reference,
                technician_id=job.technician_id,
                status=job.status,
                priority=job.priority,
                start=start,
                end=end,
                planned_end=job.planned_end,
                sla_due=job.sla_due,
            )
        )
    return forecasts


def sla_watch(
    session: Session,
    *,
    now: datetime,
    policy: ReplanPolicy = ReplanPolicy(),
) -> WatchReport:
    """One minute's watch: owed and event re-plans, overruns, and SLA escalations of today."""
    zone = service_area_zone(session)
    today = now.astimezone(zone).date()
    forecasts = forecast(session, today, now=now)
    replans = [
        *settle_deferred(session, now=now, policy=policy),
        *replan_on_changes(session, now=now, policy=policy),
        *replan_on_overruns(session, today, forecasts, policy, zone),
    ]
    escalated, escalation_replans = escalate(session, today, forecasts, policy, zone)
    return WatchReport(replans=[*replans, *escalation_replans], escalated=escalated)


def replan_on_overruns(
    session: Session,
    day: date,
    forecasts: Sequence[Forecast],
    policy: ReplanPolicy,
    zone: ZoneInfo,
) -> list[Replan]:
    """Re-plan, once per job, when a job overruns and its technician has jobs after it.

    The policy reads the most urgent priority of the job and those it pushes.
    """
    handled = handled_triggers(session, [day])
    replans = []
    for position, overrun in enumerate(forecasts):
        trigger = f"overrun:{overrun.job_id}"
        if overrun.status not in AT_SITE or overrun.delay <= OVERRUN_GRACE or trigger in handled:
            continue
        pushed = [
            later
            for later in forecasts[position + 1 :]
            if later.technician_id == overrun.technician_id
        ]
        if not pushed:
            continue
        reason = (
            f"job {overrun.reference} on site past its planned end"
            f" {_clock(overrun.planned_end, zone)}, ahead of {len(pushed)} more"
        )
        priority = most_urgent(f.priority for f in [overrun, *pushed])
        replans.append(replan_once(session, day, trigger, reason, priority, policy))
    return replans


def escalate(
    session: Session,
    day: date,
    forecasts: Iterable[Forecast],
    policy: ReplanPolicy,
    zone: ZoneInfo,
) -> tuple[list[Alert], list[Replan]]:
    """Escalate, once per job, each job predicted to finish after its SLA due.

    Its priority goes up one level (an emergency stays one), an alert tells the
    dispatchers, and the day is re-planned at the new priority.
    """
    late = [f for f in forecasts if f.breaches_sla]
    done = _alerted(session, SLA_RISK, [f.job_id for f in late])
    alerts, replans = [], []
    for predicted in late:
        if (str(predicted.job_id), None) in done:
            continue
        job = session.get_one(Job, predicted.job_id)
        before, job.priority = job.priority, _raised(job.priority)
        assert predicted.sla_due is not None  # breaches_sla
        message = (
            f"job {job.reference} is predicted to finish at {_clock(predicted.end, zone)},"
            f" after its SLA due {_clock(predicted.sla_due, zone)}: priority {before.value}"
            f" -> {job.priority.value}, re-planning"
        )
        log_event(
            session,
            ALERT_EVENT,
            str(job.id),
            SLA_RISK,
            job=job.reference,
            since=None,
            message=message,
            predicted_end=predicted.end.isoformat(),
            sla_due=predicted.sla_due.isoformat(),
            priority=[before.value, job.priority.value],
        )
        alerts.append(Alert(SLA_RISK, job.reference, message))
        reason = f"job {job.reference} at risk of missing its SLA"
        replans.append(replan_once(session, day, f"sla:{job.id}", reason, job.priority, policy))
    session.flush()
    return alerts, replans


def remind(
    session: Session,
    *,
    now: datetime,
    thresholds: Thresholds = Thresholds(),
) -> list[Alert]:
    """Alert the dispatchers to jobs stuck in a state, once per job and time it got stuck.

    A request waiting for triage longer than ``untriaged_after``; a scheduled job not yet
    dispatched ``dispatch_before`` its planned start (or later); a job paused for longer
    than ``paused_after`` (since its latest pause, as the event log says).
    """
    zone = service_area_zone(session)
    stuck: list[tuple[str, Job, datetime, str]] = []
    for job in session.scalars(
        select(Job)
        .where(Job.status == S.NEW, Job.created_at <= now - thresholds.untriaged_after)
        .order_by(Job.id)
    ):
        message = f"job {job.reference} has waited for triage since {_clock(job.created_at, zone)}"
        stuck.append((UNTRIAGED, job, job.created_at, message))
    for job in session.scalars(
        select(Job)
        .where(Job.status == S.SCHEDULED, Job.planned_start <= now + thresholds.dispatch_before)
        .options(selectinload(Job.technician))
        .order_by(Job.planned_start, Job.id)
    ):
        assert job.planned_start is not None and job.technician is not None  # scheduled
        message = (
            f"job {job.reference} starts at {_clock(job.planned_start, zone)} with"
            f" {job.technician.code} and is not dispatched"
        )
        stuck.append((NOT_DISPATCHED, job, job.planned_start, message))
    paused = session.scalars(select(Job).where(Job.status == S.PAUSED).order_by(Job.id)).all()
    paused_at = _entered(session, paused, S.PAUSED)
    for job in paused:
        since = paused_at.get(job.id)
        if since is not None and since <= now - thresholds.paused_after:
            message = f"job {job.reference} has been paused since {_clock(since, zone)}"
            stuck.append((PAUSED_LONG, job, since, message))
    return _alert_once_each(session, stuck)


def _alert_once_each(session: Session, stuck: list[tuple[str, Job, datetime, str]]) -> list[Alert]:
    done: set[tuple[str, str, str | None]] = set()
    for kind in {kind for kind, *_ in stuck}:
        ids = [job.id for other, job, *_ in stuck if other == kind]
        done |= {(kind, *key) for key in _alerted(session, kind, ids)}
    alerts = []
    for kind, job, since, message in stuck:
        key = (kind, str(job.id), _instant(since))
        if key in done:
            continue
        log_event(
            session,
            ALERT_EVENT,
            str(job.id),
            kind,
            job=job.reference,
            since=key[2],
            message=message,
        )
        done.add(key)
        alerts.append(Alert(kind, job.reference, message))
    session.flush()
    return alerts


def _alerted(session: Session, kind: str, job_ids: Sequence[int]) -> set[tuple[str, str | None]]:
    """(job id, since) of the alerts of ``kind`` already written for ``job_ids``."""
    if not job_ids:
        return set()
    rows = session.execute(
        select(Event.entity_id, Event.changes).where(
            Event.entity_type == ALERT_EVENT,
            Event.action == kind,
            Event.entity_id.in_([str(job_id) for job_id in job_ids]),
        )
    )
    return {(entity_id, changes.get("since")) for entity_id, changes in rows}


def _entered(session: Session, jobs: Sequence[Job], status: JobStatus) -> dict[int, datetime]:
    """When each job last moved to ``status``, as the event log says, by job id."""
    if not jobs:
        return {}
    rows = session.execute(
        select(Event.entity_id, Event.occurred_at, Event.changes)
        .where(
            Event.entity_type == Job.__tablename__,
            Event.entity_id.in_([str(job.id) for job in jobs]),
            Event.action == "updated",
        )
        .order_by(Event.id)
    )
    entered = {}
    for entity_id, occurred_at, changes in rows:
        moved = changes.get("status")
        if isinstance(moved, list) and moved[-1] == status.value:
            entered[int(entity_id)] = occurred_at
    return entered


def _raised(priority: Priority) -> Priority:
    order = list(Priority)  # most urgent first
    return order[max(order.index(priority) - 1, 0)]


def _instant(moment: datetime) -> str:
    """One spelling per instant, whatever offset it carries, for comparing alert keys."""
    return moment.astimezone(UTC).isoformat()


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")

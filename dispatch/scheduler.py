"""The scheduler process (``fieldops scheduler``): the nightly plan, the SLA watch, reminders,
housekeeping.

APScheduler 3.x in one dedicated process, never inside a web worker (each worker would
fire every job once more). Jobs are kept in the app's database (``SQLAlchemyJobStore``,
table ``apscheduler_jobs``) under fixed ids and added with ``replace_existing``, so a
restart updates them in place instead of adding copies, and a nightly plan missed while
the process was down still runs when it is back (within ``NIGHTLY_MISFIRE_GRACE_S``).

Job functions live at module level and take plain arguments, which the job store
pickles into its table. The database is not one of them: its URL may hold a password.
``configure`` names the process's database once, and each job opens its own session on
it, in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory, set_actor
from dispatch.days import service_area_zone
from dispatch.db import utcnow
from dispatch.enums import Priority
from dispatch.planning.live import plan_next_working_day
from dispatch.planning.policy import ReplanPolicy, positive_int_setting
from dispatch.planning.watch import remind, sla_watch
from dispatch.retention import DEFAULT_ANSWERS_KEPT, forget_old_records

logger = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
NIGHTLY_PLAN_JOB = "nightly-plan"
SLA_WATCH_JOB = "sla-watch"
REMINDERS_JOB = "reminders"
HOUSEKEEPING_JOB = "housekeeping"

DEFAULT_NIGHTLY_AT = time(18, 0)
DEFAULT_NIGHTLY_TIME_LIMIT_S = 60
DEFAULT_WATCH_EVERY_S = 60
DEFAULT_REMINDERS_EVERY_S = 300
#: Housekeeping runs daily at this time, when phones are quiet.
HOUSEKEEPING_AT = time(3, 0)
#: A nightly plan missed by up to this much (the process was down) still runs.
NIGHTLY_MISFIRE_GRACE_S = 4 * 3600
#: Threads running jobs: each job runs alone (max_instances=1); two let the nightly plan
#: and the watch overlap.
WORKER_THREADS = 2

_sessions: sessionmaker[Session] | None = None


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """When each job runs and what it may do (README, "Live re-planning and the scheduler")."""

    nightly_at: time = DEFAULT_NIGHTLY_AT  # in the service area's time zone
    # Run the nightly plan every so many seconds instead (tests and rehearsals).
    nightly_every_s: int | None = None
    nightly_time_limit_s: int = DEFAULT_NIGHTLY_TIME_LIMIT_S
    watch_every_s: int = DEFAULT_WATCH_EVERY_S
    reminders_every_s: int = DEFAULT_REMINDERS_EVERY_S
    # Days a change replayed with its Idempotency-Key still gets its first answer.
    answers_kept_days: int = DEFAULT_ANSWERS_KEPT.days
    policy: ReplanPolicy = ReplanPolicy()
    # Seconds added to the real time to make the jobs' "now" (``fieldops scheduler --now``).
    clock_offset_s: float = 0.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SchedulerSettings:
        """The settings the ``FIELDOPS_*`` variables give; defaults for those unset.

        Raises
        ------
        ValueError
            A value is not one; the message names the variable and what it takes.
        """
        return cls(
            nightly_at=_clock_setting(environ, "FIELDOPS_NIGHTLY_PLAN_AT", DEFAULT_NIGHTLY_AT),
            nightly_every_s=positive_int_setting(environ, "FIELDOPS_NIGHTLY_PLAN_EVERY_S", 0)
            or None,
            nightly_time_limit_s=positive_int_setting(
                environ, "FIELDOPS_NIGHTLY_TIME_LIMIT_S", DEFAULT_NIGHTLY_TIME_LIMIT_S
            ),
            watch_every_s=positive_int_setting(
                environ, "FIELDOPS_SLA_WATCH_EVERY_S", DEFAULT_WATCH_EVERY_S
            ),
            reminders_every_s=positive_int_setting(
                environ, "FIELDOPS_REMINDERS_EVERY_S", DEFAULT_REMINDERS_EVERY_S
            ),
            answers_kept_days=positive_int_setting(
                environ, "FIELDOPS_IDEMPOTENCY_KEEP_DAYS", DEFAULT_ANSWERS_KEPT.days
            ),
            policy=ReplanPolicy.from_env(environ),
        )


def configure(scheduler: BaseScheduler, engine: Engine, settings: SchedulerSettings) -> None:
    """Give ``scheduler`` its job store on ``engine``'s database and its four jobs.

    The scheduler runs in the service area's time zone (``dispatch.days``), read now:
    a new area's zone takes a restart.
    """
    global _sessions
    _sessions = make_session_factory(engine)
    with _sessions() as session:
        zone = service_area_zone(session)
    scheduler.configure(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(WORKER_THREADS)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=zone,
    )
    nightly: BaseTrigger = (
        IntervalTrigger(seconds=settings.nightly_every_s, timezone=zone)
        if settings.nightly_every_s
        else CronTrigger(
            hour=settings.nightly_at.hour, minute=settings.nightly_at.minute, timezone=zone
        )
    )
    clock = {"clock_offset_s": settings.clock_offset_s}
    scheduler.add_job(
        nightly_plan,
        nightly,
        id=NIGHTLY_PLAN_JOB,
        name="plan the next working day",
        kwargs={"time_limit_s": settings.nightly_time_limit_s, **clock},
        misfire_grace_time=NIGHTLY_MISFIRE_GRACE_S,
        replace_existing=True,
    )
    scheduler.add_job(
        watch,
        IntervalTrigger(seconds=settings.watch_every_s, timezone=zone),
        id=SLA_WATCH_JOB,
        name="SLA watch and re-plan triggers",
        kwargs={
            "auto_publish": sorted(p.value for p in settings.policy.auto_publish),
            "replan_time_limit_s": settings.policy.time_limit_s,
            **clock,
        },
        misfire_grace_time=settings.watch_every_s,
        replace_existing=True,
    )
    scheduler.add_job(
        reminders,
        IntervalTrigger(seconds=settings.reminders_every_s, timezone=zone),
        id=REMINDERS_JOB,
        name="reminders for stuck jobs",
        kwargs=clock,
        misfire_grace_time=settings.reminders_every_s,
        replace_existing=True,
    )
    scheduler.add_job(
        housekeeping,
        CronTrigger(hour=HOUSEKEEPING_AT.hour, minute=HOUSEKEEPING_AT.minute, timezone=zone),
        id=HOUSEKEEPING_JOB,
        name="forget old replay answers and expired phone tokens",
        kwargs={"answers_kept_days": settings.answers_kept_days, **clock},
        misfire_grace_time=NIGHTLY_MISFIRE_GRACE_S,
        replace_existing=True,
    )


def nightly_plan(time_limit_s: int, clock_offset_s: float) -> None:
    """Job: queue the plan of the next working day (``live.plan_next_working_day``)."""
    with _transaction(NIGHTLY_PLAN_JOB) as session:
        run = plan_next_working_day(session, now=_now(clock_offset_s), time_limit_s=time_limit_s)
        day = run.service_date if run else None
    if day is None:
        logger.info("nightly plan: nothing to queue (no working day, or planned already)")
    else:
        logger.info("nightly plan: queued the plan of %s", day)


def watch(auto_publish: list[str], replan_time_limit_s: int, clock_offset_s: float) -> None:
    """Job: the SLA watch and the re-plan triggers (``watch.sla_watch``)."""
    policy = ReplanPolicy(frozenset(map(Priority, auto_publish)), replan_time_limit_s)
    with _transaction(SLA_WATCH_JOB) as session:
        report = sla_watch(session, now=_now(clock_offset_s), policy=policy)
    for replan in report.replans:
        logger.info("re-plan of %s (%s): %s", replan.day, replan.trigger, replan.reason)
    for alert in report.escalated:
        logger.warning("%s", alert.message)


def reminders(clock_offset_s: float) -> None:
    """Job: alerts for jobs stuck in a state (``watch.remind``)."""
    with _transaction(REMINDERS_JOB) as session:
        alerts = remind(session, now=_now(clock_offset_s))
    for alert in alerts:
        logger.info("%s", alert.message)


def housekeeping(answers_kept_days: int, clock_offset_s: float) -> None:
    """Job: drop replay answers past their keeping time and expired phone tokens."""
    with _transaction(HOUSEKEEPING_JOB) as session:
        answers, tokens = forget_old_records(
            session, now=_now(clock_offset_s), keep=timedelta(days=answers_kept_days)
        )
    logger.info("housekeeping: %d replay answers and %d expired tokens deleted", answers, tokens)


@contextmanager
def _transaction(job_id: str) -> Iterator[Session]:
    if _sessions is None:
        raise RuntimeError("the scheduler's database is not configured: call configure() first")
    with _sessions.begin() as session:
        set_actor(session, user_id=None, name=f"scheduler:{job_id}")
        yield session


def _now(clock_offset_s: float) -> datetime:
    return utcnow() + timedelta(seconds=clock_offset_s)


def _clock_setting(environ: Mapping[str, str], name: str, default: time) -> time:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        clock = None
    if clock is None or clock.tzinfo is not None or clock.second or clock.microsecond:
        raise ValueError(f"{name} must be a time of day like 18:00, not {text!r}")
    return clock

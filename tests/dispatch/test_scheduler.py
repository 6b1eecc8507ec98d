"""The scheduler: its settings, its jobs kept in the database under fixed ids (a restart
adds no copies), the nightly plan firing on a short interval, and ``fieldops scheduler``
as a real process. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import utcnow
from dispatch.enums import Priority, RunState
from dispatch.models import PlanRun
from dispatch.planning.live import NIGHTLY_REASON
from dispatch.planning.policy import ReplanPolicy
from dispatch.scheduler import (
    HOUSEKEEPING_JOB,
    JOBS_TABLE,
    NIGHTLY_PLAN_JOB,
    REMINDERS_JOB,
    SLA_WATCH_JOB,
    SchedulerSettings,
    configure,
)
from tests.dispatch.test_live import DAY, OSLO
from tests.dispatch.test_run_execution import import_oslo, wait_until
from web.cli import cli

#: Monday evening before the oslo day: the next working day is the oslo day itself.
EVENING = datetime(2026, 11, 23, 17, 0, tzinfo=OSLO)
#: Intervals long enough that a job never fires during a test.
NEVER_S = 24 * 3600


def nightly_every_second(clock_offset_s: float) -> SchedulerSettings:
    return SchedulerSettings(
        nightly_every_s=1,
        watch_every_s=NEVER_S,
        reminders_every_s=NEVER_S,
        clock_offset_s=clock_offset_s,
    )


def stored_jobs(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text(f"SELECT id FROM {JOBS_TABLE} ORDER BY id")))


def plan_runs(sessions: sessionmaker[Session]) -> list[PlanRun]:
    with sessions() as session:
        return list(session.scalars(select(PlanRun).order_by(PlanRun.id)))


# -- settings -----------------------------------------------------------------------------


def test_settings_default_and_read_the_environment() -> None:
    assert SchedulerSettings.from_env({}) == SchedulerSettings()
    assert SchedulerSettings.from_env(
        {
            "FIELDOPS_NIGHTLY_PLAN_AT": "19:30",
            "FIELDOPS_NIGHTLY_PLAN_EVERY_S": "5",
            "FIELDOPS_NIGHTLY_TIME_LIMIT_S": "90",
            "FIELDOPS_SLA_WATCH_EVERY_S": "30",
            "FIELDOPS_REMINDERS_EVERY_S": "600",
            "FIELDOPS_AUTO_PUBLISH": "emergency,high",
            "FIELDOPS_IDEMPOTENCY_KEEP_DAYS": "7",
        }
    ) == SchedulerSettings(
        nightly_at=datetime(2026, 1, 1, 19, 30).time(),
        nightly_every_s=5,
        nightly_time_limit_s=90,
        watch_every_s=30,
        reminders_every_s=600,
        answers_kept_days=7,
        policy=ReplanPolicy(frozenset({Priority.EMERGENCY, Priority.HIGH})),
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIELDOPS_NIGHTLY_PLAN_AT", "25:00"),
        ("FIELDOPS_NIGHTLY_PLAN_AT", "18:00:30"),
        ("FIELDOPS_NIGHTLY_PLAN_AT", "18:00+01:00"),
        ("FIELDOPS_NIGHTLY_PLAN_EVERY_S", "0"),
        ("FIELDOPS_SLA_WATCH_EVERY_S", "-1"),
        ("FIELDOPS_REMINDERS_EVERY_S", "1.5"),
        ("FIELDOPS_NIGHTLY_TIME_LIMIT_S", "soon"),
        ("FIELDOPS_AUTO_PUBLISH", "urgent"),
        ("FIELDOPS_IDEMPOTENCY_KEEP_DAYS", "0"),
    ],
)
def test_settings_refuse_values_they_cannot_read(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        SchedulerSettings.from_env({variable: value})


# -- the jobs -----------------------------------------------------------------------------


def test_a_restart_updates_the_stored_jobs_instead_of_adding_copies(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    import_oslo(sessions)
    for watch_every_s in (60, 120):
        scheduler = BackgroundScheduler()
        configure(scheduler, engine, SchedulerSettings(watch_every_s=watch_every_s))
        scheduler.start(paused=True)
        scheduler.shutdown()
    assert stored_jobs(engine) == sorted(
        [HOUSEKEEPING_JOB, NIGHTLY_PLAN_JOB, REMINDERS_JOB, SLA_WATCH_JOB]
    )

    scheduler = BackgroundScheduler()
    configure(scheduler, engine, SchedulerSettings())
    scheduler.start(paused=True)
    try:
        watch = scheduler.get_job(SLA_WATCH_JOB)
        nightly = scheduler.get_job(NIGHTLY_PLAN_JOB)
    finally:
        scheduler.shutdown()
    assert watch.trigger.interval == timedelta(seconds=60)
    assert str(scheduler.timezone) == "Europe/Oslo"
    fires = nightly.next_run_time.astimezone(OSLO)
    assert (fires.hour, fires.minute) == (18, 0)


def test_a_short_interval_fires_the_nightly_plan_and_queues_one_run(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """It fires every second; the plan is queued once (the job skips a day with a run)."""
    import_oslo(sessions)
    fired: list[JobExecutionEvent] = []
    scheduler = BackgroundScheduler()
    configure(scheduler, engine, nightly_every_second((EVENING - utcnow()).total_seconds()))
    scheduler.add_listener(fired.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        wait_until(lambda: len(fired) >= 3, timeout_s=20)
    finally:
        scheduler.shutdown()
    assert {event.job_id for event in fired} == {NIGHTLY_PLAN_JOB}
    assert all(event.exception is None for event in fired)
    (run,) = plan_runs(sessions)
    assert (run.service_date, run.state, run.reason) == (DAY, RunState.QUEUED, NIGHTLY_REASON)
    assert (run.replan, run.requested_by_id) == (False, None)


# -- the command --------------------------------------------------------------------------


def fieldops_scheduler(log: Path, database_url: str, *args: str) -> subprocess.Popen[bytes]:
    """``fieldops scheduler ARGS`` in a process of its own, the nightly plan every second."""
    env = {
        **os.environ,
        "FIELDOPS_INSTANCE_PATH": str(log.parent / "instance"),
        "FIELDOPS_NIGHTLY_PLAN_EVERY_S": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-c", "from web.cli import main; main()"]
            + ["--database-url", database_url, "scheduler", *args],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )


def fired_twice(log: Path) -> bool:
    """Whether the process's log shows the nightly plan run at least twice."""
    return log.read_text().count("nightly plan:") >= 2


def test_fieldops_scheduler_plans_the_next_day_and_stops_on_sigterm(
    tmp_path: Path, database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Started twice: the second process finds the run queued and its jobs stored."""
    import_oslo(sessions)
    evening = EVENING.astimezone(UTC).isoformat()
    for attempt in range(2):
        log = tmp_path / f"scheduler-{attempt}.log"
        process = fieldops_scheduler(log, database_url, "--now", evening)
        try:
            wait_until(partial(fired_twice, log), timeout_s=60)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output = log.read_text()
        assert "Scheduler: nightly plan every 1 s" in output
        assert "Traceback" not in output
        assert stored_jobs(engine) == sorted(
            [HOUSEKEEPING_JOB, NIGHTLY_PLAN_JOB, REMINDERS_JOB, SLA_WATCH_JOB]
        )
    (run,) = plan_runs(sessions)
    assert (run.service_date, run.reason) == (DAY, NIGHTLY_REASON)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"FIELDOPS_AUTO_PUBLISH": "urgent"}, "FIELDOPS_AUTO_PUBLISH"),
        ((), {"FIELDOPS_NIGHTLY_PLAN_AT": "6pm"}, "FIELDOPS_NIGHTLY_PLAN_AT"),
        (("--now", "2026-11-23T17:00"), {}, "--now must be an instant with an offset"),
        (("--now", "tomorrow"), {}, "--now must be an instant with an offset"),
    ],
)
def test_fieldops_scheduler_refuses_bad_settings_before_it_starts(
    database_url: str, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["--database-url", database_url, "scheduler", *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Database:" not in result.output  # refused before touching the database

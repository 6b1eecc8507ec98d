"""``fieldops scheduler``: the one process that plans the next day, watches SLAs and reminds."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import replace
from datetime import datetime
from types import FrameType

import click
from apscheduler.schedulers.blocking import BlockingScheduler

from dispatch.db import utcnow
from dispatch.scheduler import SchedulerSettings, configure
from web.cli._common import TEXT, InputError, cli, database_engine


@cli.command()
@click.option(
    "--now",
    "start_at",
    type=TEXT,
    metavar="INSTANT",
    help=(
        "Start the jobs' clock at INSTANT (ISO 8601 with an offset, e.g."
        " 2026-11-23T17:00:00+01:00) instead of the real time, to rehearse a day; it runs on"
        " in real time. When jobs fire still follows the real clock."
    ),
)
@click.pass_context
def scheduler(ctx: click.Context, start_at: str | None) -> None:
    """Run the scheduler until stopped (Ctrl+C or SIGTERM).

    The nightly plan of the next working day (FIELDOPS_NIGHTLY_PLAN_AT, default 18:00 in
    the service area's time zone), the SLA watch and re-plan triggers every minute, and
    reminders for stuck jobs. Run exactly one, apart from the web server; restarting it
    is safe (its jobs keep fixed ids in the database).
    """
    try:
        settings = SchedulerSettings.from_env(os.environ)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if start_at is not None:
        settings = replace(settings, clock_offset_s=_offset_to(start_at))
    engine = database_engine(ctx)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runner = BlockingScheduler()
    configure(runner, engine, settings)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        runner.shutdown()  # lets a job under way finish its transaction

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    nightly = (
        f"every {settings.nightly_every_s} s"
        if settings.nightly_every_s
        else f"at {settings.nightly_at:%H:%M} {runner.timezone}"
    )
    auto = ", ".join(sorted(p.value for p in settings.policy.auto_publish)) or "none"
    click.echo(
        f"Scheduler: nightly plan {nightly}, SLA watch every {settings.watch_every_s} s,"
        f" reminders every {settings.reminders_every_s} s; re-plans publish themselves"
        f" for: {auto} (Ctrl+C stops)"
    )
    runner.start()


def _offset_to(text: str) -> float:
    """Seconds from the real time to the instant ``text`` names."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise InputError(
            f"--now must be an instant with an offset like 2026-11-23T17:00:00+01:00, not {text!r}"
        )
    return (instant - utcnow()).total_seconds()

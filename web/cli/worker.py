"""``fieldops worker``: executes plan runs, on PostgreSQL through procrastinate, on SQLite locally."""

from __future__ import annotations

import logging
import threading

import click

from dispatch.planning.jobqueue import QUEUE, run_local_worker, run_worker, stop_on_signals
from mobile_api.http import SESSIONS_KEY
from web.cli._common import cli, database, database_engine


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Execute plan runs until stopped (Ctrl+C or SIGTERM).

    On PostgreSQL a procrastinate worker: start as many as you like, on any machines
    that reach the database. On SQLite the local worker, which `fieldops serve` also
    starts. A run in progress when the worker stops is failed, and can be asked again.
    """
    app = database(ctx)
    sessions = app.extensions[SESSIONS_KEY]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if database_engine(ctx).dialect.name == "postgresql":
        click.echo(f"Worker: procrastinate, queue {QUEUE} (Ctrl+C stops)")
        run_worker(app.config["DATABASE_URL"], sessions)
        return
    click.echo("Worker: local, queued runs from plan_runs (Ctrl+C stops)")
    stop = threading.Event()
    stop_on_signals(stop)
    run_local_worker(sessions, stop)

"""The job queues that execute plan runs outside web requests, and their reconciler.

PostgreSQL: procrastinate, whose tables live beside ours (migration 0007).
``enqueue`` writes the run and its queue job in the caller's transaction (procrastinate
defers on the session's own connection), so neither is ever committed without the
other. ``fieldops worker`` processes, on any number of machines, run the jobs.

SQLite: no queue service. Queued rows of ``plan_runs`` are the queue, and a local
worker (a process ``fieldops serve`` starts, or ``fieldops worker``) claims them.

Both run the same ``execute_run``, whose claim (queued -> running) one worker wins, so
a run deferred twice still runs once. ``reconcile`` repairs what a crash leaves: running
runs whose worker died are failed, and on PostgreSQL a queued run whose job no longer
waits (its worker died before claiming it, or the job was removed) gets a new job.
Every worker reconciles when it starts and every ``RECONCILE_INTERVAL_S`` after.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from multiprocessing.process import BaseProcess
from types import FrameType

import procrastinate
from procrastinate.exceptions import NoResult
from procrastinate.jobs import Status
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory
from dispatch.db import make_engine, normalize_database_url
from dispatch.enums import RunState
from dispatch.models import PlanRun
from dispatch.planning.execute import (
    STALE_HEARTBEAT_S,
    STOP_GRACE_S,
    Progress,
    execute_run,
    fail_stale_runs,
    watch_parent,
)
from dispatch.planning.runs import request_run

logger = logging.getLogger(__name__)

QUEUE = "plan_runs"
TASK = "fieldops.plan_run"
#: Seconds between a worker's reconciliations (it also reconciles when it starts).
RECONCILE_INTERVAL_S = 30.0
#: Seconds the local worker waits between looks for a queued run.
LOCAL_POLL_S = 1.0
#: Seconds a stopping procrastinate worker lets its run go on before stopping it (the run
#: then fails: "the worker was stopped").
SHUTDOWN_GRACE_S = 30.0


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one reconciliation did: runs failed for a dead worker, runs given a new job."""

    failed: list[int]
    requeued: list[int]


def enqueue(
    session: Session,
    day: date,
    *,
    time_limit_s: int,
    requested_by: int | None,
    reason: str = "",
    replan: bool = False,
    auto_publish: bool = False,
) -> PlanRun:
    """Ask for a run of ``day`` (see ``request_run``); it starts once the caller commits.

    On PostgreSQL its procrastinate job is written in the same transaction; on SQLite
    the queued row itself is what the local worker looks for.

    Raises
    ------
    RunInProgress
        The day already has a queued or running run (the API answers 409 naming it).
    """
    run = request_run(
        session,
        day,
        time_limit_s=time_limit_s,
        requested_by=requested_by,
        reason=reason,
        replan=replan,
        auto_publish=auto_publish,
    )
    if _on_postgresql(session):
        _defer(session, run)
    return run


def reconcile(
    factory: sessionmaker[Session], *, stale_after_s: float = STALE_HEARTBEAT_S
) -> Reconciled:
    """Fail running runs with no heartbeat for ``stale_after_s``; give orphaned queued runs a job."""
    failed = fail_stale_runs(factory, stale_after_s=stale_after_s)
    with factory.begin() as session:
        requeued = _requeue_orphans(session) if _on_postgresql(session) else []
    return Reconciled(failed, requeued)


def wait_for_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    poll_s: float = 1.0,
) -> PlanRun:
    """Wait until the run has ended, wherever it executes; the ended run.

    ``on_progress`` is told each new best the run record shows (read every ``poll_s``).
    """
    shown: float | None = None
    while True:
        with factory() as session:
            run = session.get_one(PlanRun, run_id)
        if on_progress is not None and run.best_score is not None and run.best_score != shown:
            shown = run.best_score
            on_progress(Progress(run.best_score, run.served or 0, run.elapsed_s or 0.0))
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            return run
        time.sleep(poll_s)


def run_worker(database_url: str, factory: sessionmaker[Session]) -> None:
    """Run procrastinate's worker on the plan runs' queue until SIGINT or SIGTERM.

    A stop lets the run in progress go on for ``SHUTDOWN_GRACE_S``, then stops it.
    """
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=procrastinate_conninfo(database_url))
    )

    def plan_run(context: procrastinate.JobContext, run_id: int) -> None:
        execute_run(factory, run_id, should_stop=context.should_abort)

    app.task(name=TASK, queue=QUEUE, pass_context=True)(plan_run)
    with _reconciling(factory):
        app.run_worker(
            queues=[QUEUE],
            name=f"fieldops-{os.getpid()}",
            shutdown_graceful_timeout=SHUTDOWN_GRACE_S,
        )


def run_local_worker(factory: sessionmaker[Session], stop: threading.Event) -> None:
    """Claim and execute queued runs from ``plan_runs``, oldest first, until ``stop`` is set.

    ``stop`` set mid-run stops the solve and fails the run ("the worker was stopped").
    """
    with _reconciling(factory):
        while not stop.is_set():
            try:
                with factory() as session:
                    run_id = session.scalar(
                        select(PlanRun.id)
                        .where(PlanRun.state == RunState.QUEUED)
                        .order_by(PlanRun.created_at, PlanRun.id)
                        .limit(1)
                    )
                if run_id is None:
                    stop.wait(LOCAL_POLL_S)
                else:
                    execute_run(factory, run_id, should_stop=stop.is_set)
            except Exception:  # the embedded worker must outlive a busy or restarted database
                logger.exception("local worker: plan runs could not be read; trying again")
                stop.wait(LOCAL_POLL_S)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (call from the main thread)."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def start_local_worker(database_url: str) -> BaseProcess:
    """The local worker in a process of its own, which ends when this process does."""
    # Not daemonic: each run's solve is a process of the worker's own.
    process = multiprocessing.get_context("spawn").Process(
        target=_local_worker_process, args=(database_url, os.getpid()), name="fieldops-worker"
    )
    process.start()
    return process


def stop_local_worker(process: BaseProcess) -> None:
    """Ask the local worker to stop (a run in progress fails), and wait until it has."""
    process.terminate()
    process.join(2 * STOP_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()


def procrastinate_conninfo(database_url: str) -> str:
    """The libpq URL of a SQLAlchemy one: the same database, server options (search_path) kept."""
    url = make_url(normalize_database_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _local_worker_process(database_url: str, parent_pid: int) -> None:
    stop = threading.Event()
    stop_on_signals(stop)
    watch_parent(parent_pid, stop.set)
    engine = make_engine(database_url)
    try:
        run_local_worker(make_session_factory(engine), stop)
    finally:
        engine.dispose()


@contextmanager
def _reconciling(factory: sessionmaker[Session]) -> Iterator[None]:
    """Reconcile now and every ``RECONCILE_INTERVAL_S`` in a thread, for the block's duration."""
    done = threading.Event()

    def loop() -> None:
        while True:
            try:
                reconcile(factory)
            except Exception:
                logger.exception("reconciling plan runs failed; trying again later")
            if done.wait(RECONCILE_INTERVAL_S):
                return

    thread = threading.Thread(target=loop, name="reconcile", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _requeue_orphans(session: Session) -> list[int]:
    """Give each queued run whose job no longer waits a new job; their ids.

    A job "doing" on a queued run means a worker took it and died before claiming the
    run (a live worker claims it at once); if the worker was only slow, its claim or
    the new job's wins and the other does nothing. Runs another reconciler holds are
    skipped.
    """
    queued = session.scalars(
        select(PlanRun).where(PlanRun.state == RunState.QUEUED).with_for_update(skip_locked=True)
    ).all()
    orphans = [run for run in queued if not _job_waits(session, run.queue_job_id)]
    for run in orphans:
        _defer(session, run)
        logger.warning("plan run %s had no waiting queue job: queued again", run.id)
    return [run.id for run in orphans]


def _job_waits(session: Session, job_id: int | None) -> bool:
    if job_id is None:
        return False
    try:
        status = _deferrer().job_manager.get_job_status(job_id, connection=_driver(session))
    except NoResult:  # the job was deleted
        return False
    return status == Status.TODO


def _defer(session: Session, run: PlanRun) -> None:
    """Write the run's queue job in the session's transaction, and note its id on the run."""
    job_id = (
        _deferrer()
        .configure_task(TASK, queue=QUEUE, connection=_driver(session))
        .defer(run_id=run.id)
    )
    run.queue_job_id = job_id
    session.flush()


@functools.cache
def _deferrer() -> procrastinate.App:
    """An app that only writes and reads jobs, always on a connection it is given (no pool)."""
    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector())


def _driver(session: Session) -> object:
    """The psycopg connection under the session's transaction."""
    return session.connection().connection.driver_connection


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"

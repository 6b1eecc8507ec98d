"""Executing a plan run: the task code that both job queues run (``dispatch.planning.jobqueue``).

A worker claims a queued run (the queued -> running move, which one claimer wins),
builds the day's problem and solves it in a process of its own, so that a cancel, a
stop or the worker's death never leaves a search running. While the search runs the
worker keeps the run record current: the best progress, a heartbeat every
``HEARTBEAT_INTERVAL_S``, and a look for a cancel. The proposal and the run's success
are written in one transaction, so a run that fails, is cancelled or loses its worker
leaves no proposal; a running run whose heartbeat stops is failed by
``fail_stale_runs``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import FrameType

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import utcnow
from dispatch.enums import RunState
from dispatch.models import PlanRun
from dispatch.planning.problem import PlanningError, build_problem
from dispatch.planning.proposals import InfeasiblePlan, replan_start, save_proposal
from dispatch.planning.runs import (
    RunTransitionRefused,
    fail_run,
    finish_run,
    record_progress,
    start_run,
)
from optimizer import Problem, Solution, SolveParams, solve

logger = logging.getLogger(__name__)

#: Seconds between a running run's heartbeats; each also looks for a cancel.
HEARTBEAT_INTERVAL_S = 1.0
#: A running run whose last heartbeat is older than this has lost its worker.
STALE_HEARTBEAT_S = 30.0
#: Seconds a solve may take beyond its time limit (starting its process, building the
#: first routes, the engine's own grace for a late search) before it is given up on.
OVERRUN_S = 120.0
#: Seconds a solve process has to stop when asked, before it is killed.
STOP_GRACE_S = 5.0
#: How often a process started by a worker checks that the worker is still there.
PARENT_CHECK_S = 0.5
_RECEIVE_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class Progress:
    """The search's new best: score (lower is better), jobs served, seconds since it began."""

    score: float
    served: int
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class _Done:
    solution: Solution


@dataclass(frozen=True, slots=True)
class _Failed:
    message: str
    details: str


@dataclass(frozen=True, slots=True)
class _Order:
    """What the solve process needs: sent to it whole, so it never reads the database."""

    problem: Problem
    time_limit_s: float
    initial: Solution | None
    # A re-plan's published assignments: moving such a job to another technician costs
    # the stability cost (SolveParams.move_cost_min).
    incumbent: Mapping[str, str]

    def params(self, on_progress: Callable[[float, int, float], None]) -> SolveParams:
        return SolveParams(
            time_limit_s=self.time_limit_s,
            on_progress=on_progress,
            initial=self.initial,
            incumbent=dict(self.incumbent) or None,
        )


def _never() -> bool:
    return False


def execute_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    should_stop: Callable[[], bool] = _never,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunState | None:
    """Claim the queued run ``run_id`` and execute it to its end.

    Parameters
    ----------
    factory
        Sessions on the run's database; each step commits on its own.
    should_stop
        Asked a few times a second; True stops the solve and fails the run (the worker
        is shutting down).
    on_progress
        Told each new best as the search reports it (``fieldops plan-day`` prints them).

    Returns
    -------
    RunState | None
        The run's final state, or None when the run was no longer queued (cancelled
        before it started, or claimed by another worker): then nothing was done.
    """
    with _writing(factory) as session:
        try:
            run = start_run(session, run_id)
        except RunTransitionRefused:
            return None
        logger.info("plan run %s for %s started", run_id, run.service_date)
    try:
        state = _execute(factory, run_id, should_stop, on_progress)
    except Exception as exc:
        logger.exception("plan run %s: unexpected error", run_id)
        state = _fail(
            factory,
            run_id,
            f"unexpected error in the worker ({type(exc).__name__}: {exc});"
            " the worker's log has the details",
        )
    logger.info("plan run %s ended %s", run_id, state)
    return state


def fail_stale_runs(
    factory: sessionmaker[Session], *, stale_after_s: float = STALE_HEARTBEAT_S
) -> list[int]:
    """Fail the running runs whose worker has given no sign of life for ``stale_after_s``.

    Its worker died (killed, out of memory, machine gone) or lost the database; had it
    finished, the run would not be running. Returns the ids of the runs failed.
    """
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    message = (
        f"its worker stopped answering (no heartbeat for over {stale_after_s:.0f} s: the"
        " worker process died or lost the database); no plan was kept, ask for the run again"
    )
    with _writing(factory) as session:
        stale = session.scalars(
            select(PlanRun.id)
            .where(PlanRun.state == RunState.RUNNING, PlanRun.heartbeat_at < cutoff)
            .with_for_update(skip_locked=True)
        ).all()
        for run_id in stale:
            fail_run(session, run_id, message)
    for run_id in stale:
        logger.warning("plan run %s failed: %s", run_id, message)
    return list(stale)


def watch_parent(parent_pid: int, on_orphaned: Callable[[], None]) -> None:
    """Call ``on_orphaned`` (once, from a thread) when the process that started this one is gone.

    A worker killed outright (SIGKILL, out of memory) cannot stop its children. They
    see that their parent changed (init, or a subreaper, adopts orphans) and stop.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        on_orphaned()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _execute(
    factory: sessionmaker[Session],
    run_id: int,
    should_stop: Callable[[], bool],
    on_progress: Callable[[Progress], None] | None,
) -> RunState:
    with factory() as session:
        run = session.get_one(PlanRun, run_id)
        try:
            # A re-plan plans the rest of the day when the day is today.
            now = utcnow() if run.replan else None
            problem = build_problem(session, run.service_date, now=now)
        except PlanningError as exc:
            return _fail(factory, run_id, f"the day cannot be planned as stored: {exc}")
        start = replan_start(session, run, problem)
        order = _Order(problem, float(run.time_limit_s), start.initial, start.incumbent)
    outcome = _solve_beside(factory, run_id, order, should_stop, on_progress)
    if isinstance(outcome, Solution):
        return _save(factory, run_id, problem, outcome)
    return outcome


def _solve_beside(
    factory: sessionmaker[Session],
    run_id: int,
    order: _Order,
    should_stop: Callable[[], bool],
    on_progress: Callable[[Progress], None] | None,
) -> Solution | RunState:
    """Solve in a process of its own, keeping the run record current; the solution or the end."""
    spawn = multiprocessing.get_context("spawn")
    receiver, sender = spawn.Pipe(duplex=False)
    # Not daemonic: the solve starts search processes of its own, which daemons may not.
    child = spawn.Process(
        target=_solve_in_child, args=(order, sender, os.getpid()), name=f"plan-run-{run_id}"
    )
    child.start()
    sender.close()  # the child holds the only sending end: its exit is EOF here
    finished = False
    try:
        outcome = _supervise(factory, run_id, order, child, receiver, should_stop, on_progress)
        finished = isinstance(outcome, Solution)
        return outcome
    finally:
        _stop(child, wait_s=STOP_GRACE_S if finished else 0.0)
        receiver.close()


def _supervise(
    factory: sessionmaker[Session],
    run_id: int,
    order: _Order,
    child: BaseProcess,
    receiver: Connection,
    should_stop: Callable[[], bool],
    on_progress: Callable[[Progress], None] | None,
) -> Solution | RunState:
    deadline = time.monotonic() + order.time_limit_s + OVERRUN_S
    next_beat = time.monotonic() + HEARTBEAT_INTERVAL_S
    unrecorded: Progress | None = None
    while True:
        if receiver.poll(_RECEIVE_POLL_S):
            try:
                message = receiver.recv()
            except EOFError:
                child.join(STOP_GRACE_S)
                return _fail(
                    factory,
                    run_id,
                    f"the solve process ended without a plan (exit code {child.exitcode})",
                )
            if isinstance(message, Progress):
                unrecorded = message
                if on_progress is not None:
                    on_progress(message)
            elif isinstance(message, _Failed):
                logger.error("plan run %s: the optimizer failed\n%s", run_id, message.details)
                return _fail(factory, run_id, f"the optimizer failed: {message.message}")
            else:
                assert isinstance(message, _Done)
                if not _beat(factory, run_id, unrecorded):
                    return _state(factory, run_id)
                return message.solution
        if should_stop():
            return _fail(
                factory, run_id, "the worker was stopped before the run ended; ask for it again"
            )
        now = time.monotonic()
        if now >= deadline:
            return _fail(
                factory,
                run_id,
                f"the solve did not end within {OVERRUN_S:.0f} s after the run's time limit",
            )
        if now >= next_beat:
            if not _beat(factory, run_id, unrecorded):
                return _state(factory, run_id)  # cancelled, or failed by the reconciler
            unrecorded = None
            next_beat = now + HEARTBEAT_INTERVAL_S


def _beat(factory: sessionmaker[Session], run_id: int, progress: Progress | None) -> bool:
    """Record the unrecorded progress and a heartbeat; False when the run is no longer running."""
    with factory.begin() as session:
        if progress is not None:
            record_progress(
                session,
                run_id,
                score=progress.score,
                served=progress.served,
                elapsed_s=progress.elapsed_s,
            )
        alive = session.scalar(
            update(PlanRun)
            .where(PlanRun.id == run_id, PlanRun.state == RunState.RUNNING)
            .values(heartbeat_at=utcnow())
            .returning(PlanRun.id)
        )
    return alive is not None


def _save(
    factory: sessionmaker[Session], run_id: int, problem: Problem, solution: Solution
) -> RunState:
    """The proposal and the run's success, in one transaction; nothing if the run ended meanwhile."""
    try:
        with _writing(factory) as session:
            # First: it locks the run, and refuses when a cancel came in since the last beat.
            run = finish_run(session, run_id)
            save_proposal(session, run, problem, solution)
    except RunTransitionRefused as exc:
        return exc.current
    except InfeasiblePlan as exc:
        return _fail(factory, run_id, f"the plan found was not kept: {exc}")
    return RunState.SUCCEEDED


def _fail(factory: sessionmaker[Session], run_id: int, message: str) -> RunState:
    """Fail the run with ``message``, unless it has ended meanwhile (then its state)."""
    try:
        with _writing(factory) as session:
            fail_run(session, run_id, message)
    except RunTransitionRefused as exc:
        return exc.current
    logger.warning("plan run %s failed: %s", run_id, message)
    return RunState.FAILED


def _state(factory: sessionmaker[Session], run_id: int) -> RunState:
    with factory() as session:
        return session.get_one(PlanRun, run_id).state


@contextmanager
def _writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that, on SQLite, holds the write lock from its first statement.

    The run functions read the state and then move it. PostgreSQL locks the row in
    between; SQLite's driver would start the transaction only at the write, so another
    process could move the run in between (two workers claiming one run). BEGIN
    IMMEDIATE takes the database's write lock before the read.
    """
    with factory.begin() as session:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield session


def _stop(child: BaseProcess, *, wait_s: float) -> None:
    """Let the solve process end within ``wait_s``, then ask it to stop (SIGTERM), then kill it.

    Its search processes end with it; those that did not (it was killed, or hung) are
    killed with its process group, lest they wait for work forever.
    """
    child.join(wait_s)
    if child.is_alive():
        child.terminate()
        child.join(STOP_GRACE_S)
    assert child.pid is not None
    with suppress(ProcessLookupError):  # the group is empty: all ended
        os.killpg(child.pid, signal.SIGKILL)
    if child.is_alive():  # killed before it had a group of its own
        child.kill()
    child.join()


def _solve_in_child(order: _Order, results: Connection, parent_pid: int) -> None:
    """The solve process: solve, sending progress and then the solution (or the error)."""
    os.setpgrp()  # its search processes join its group, so they can be ended together
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the worker, which decides
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    watch_parent(parent_pid, _end_group)

    def report(score: float, served: int, elapsed_s: float) -> None:
        results.send(Progress(score, served, elapsed_s))

    try:
        solution = solve(order.problem, order.params(report))
    except Exception as exc:  # noqa: BLE001 - the worker fails the run with it and logs it
        results.send(_Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    else:
        results.send(_Done(solution))


def _end_group() -> None:
    """Orphaned: stop as on SIGTERM, and kill the whole group if that takes too long."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE_S)
    os.killpg(0, signal.SIGKILL)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """Stop by an exception, so the solve's own search processes are ended on the way out."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let that clean-up finish
    raise SystemExit(128 + signum)

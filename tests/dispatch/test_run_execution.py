"""Executing plan runs (``execute_run``): a solve process per run, the run record kept current.

Every test runs on SQLite and on PostgreSQL, with real solve processes on the small
Oslo day (30 jobs); each solve is given a second or two, or is stopped early. The
judge of "no process left behind" is the process table (``/proc``), not the code.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import utcnow
from dispatch.enums import RunState
from dispatch.models import Plan, PlanRun
from dispatch.planning import cancel_run, request_run, start_run
from dispatch.planning import execute as execute_module
from dispatch.planning.execute import Progress, execute_run, fail_stale_runs
from tests.dispatch.test_planning_problem import import_day, load_day

#: Long enough that a test stops the solve before it ends by itself.
LONG_S = 60


def import_oslo(sessions: sessionmaker[Session]) -> date:
    """The Oslo day (5 technicians, 30 jobs) imported and committed; its date."""
    with sessions() as session:
        return import_day(session, load_day("oslo-5x30"))


@pytest.fixture
def oslo(sessions: sessionmaker[Session]) -> date:
    return import_oslo(sessions)


def queued_run(sessions: sessionmaker[Session], day: date, time_limit_s: int = 1) -> int:
    """A committed queued run of ``day``; its id."""
    with sessions.begin() as session:
        return request_run(session, day, time_limit_s=time_limit_s, requested_by=None).id


def the_run(sessions: sessionmaker[Session], run_id: int) -> PlanRun:
    with sessions() as session:
        return session.get_one(PlanRun, run_id)


def plans_of(sessions: sessionmaker[Session], run_id: int) -> int:
    with sessions() as session:
        count = session.scalar(select(func.count()).select_from(Plan).where(Plan.run_id == run_id))
    assert count is not None
    return count


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent to read it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    waiting = [pid]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.add(child)
            waiting.append(child)
    return found


def solving(run_id: int) -> multiprocessing.process.BaseProcess:
    """This process's solve process of the run, once its search is under way."""
    name = f"plan-run-{run_id}"
    wait_until(lambda: any(p.name == name for p in multiprocessing.active_children()))
    return next(p for p in multiprocessing.active_children() if p.name == name)


class InThread:
    """``execute_run`` in a thread, as a worker runs it; ``result`` once it has ended."""

    def __init__(self, factory: sessionmaker[Session], run_id: int, **options: object) -> None:
        self.result: RunState | None = None
        self._thread = threading.Thread(target=self._run, args=(factory, run_id, options))
        self._thread.start()

    def _run(
        self, factory: sessionmaker[Session], run_id: int, options: dict[str, object]
    ) -> None:
        self.result = execute_run(factory, run_id, **options)  # type: ignore[arg-type]

    def join(self, timeout_s: float = 60.0) -> RunState | None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "execute_run did not return"
        return self.result


@pytest.fixture
def running_solve(sessions: sessionmaker[Session], oslo: date) -> Iterator[tuple[int, InThread]]:
    """A long run executing in a thread, its search under way (progress recorded)."""
    run_id = queued_run(sessions, oslo, LONG_S)
    execution = InThread(sessions, run_id)
    wait_until(lambda: the_run(sessions, run_id).best_score is not None)
    yield run_id, execution
    execution.join()


def test_a_run_ends_succeeded_with_its_proposal_and_its_progress(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """The run goes queued -> succeeded, keeps its best progress and leaves one proposal."""
    run_id = queued_run(sessions, oslo)
    seen: list[Progress] = []

    state = execute_run(sessions, run_id, on_progress=seen.append)

    run = the_run(sessions, run_id)
    assert state == run.state == RunState.SUCCEEDED
    assert seen, "the search reported no progress"
    assert run.best_score == min(p.score for p in seen)
    assert run.served == next(p.served for p in seen if p.score == run.best_score) > 0
    assert run.started_at is not None and run.finished_at is not None
    assert run.heartbeat_at is not None and run.heartbeat_at >= run.started_at
    assert plans_of(sessions, run_id) == 1
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("plan-run")]


def test_a_run_no_longer_queued_is_left_alone(sessions: sessionmaker[Session], oslo: date) -> None:
    """A run cancelled before a worker took it is not started: None, and nothing changes."""
    run_id = queued_run(sessions, oslo)
    with sessions.begin() as session:
        cancel_run(session, run_id)

    assert execute_run(sessions, run_id) is None
    assert the_run(sessions, run_id).state == RunState.CANCELLED
    assert the_run(sessions, run_id).started_at is None


def test_two_workers_taking_one_run_execute_it_once(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """Two claims at once (a run deferred twice): one executes it, the other does nothing."""
    run_id = queued_run(sessions, oslo)
    barrier = threading.Barrier(2)

    def take() -> RunState | None:
        barrier.wait(timeout=10)
        return execute_run(sessions, run_id)

    results: list[RunState | None] = []
    threads = [threading.Thread(target=lambda: results.append(take())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(results, key=str) == [None, RunState.SUCCEEDED]
    assert plans_of(sessions, run_id) == 1


def test_a_day_that_cannot_be_planned_fails_with_the_reason(
    sessions: sessionmaker[Session],
) -> None:
    """A day with no service day fails the run with a reason a dispatcher can act on."""
    run_id = queued_run(sessions, date(2031, 1, 6))

    assert execute_run(sessions, run_id) == RunState.FAILED

    run = the_run(sessions, run_id)
    assert run.error == "the day cannot be planned as stored: date: no service day on 2031-01-06"
    assert run.finished_at is not None


def test_a_cancel_mid_run_stops_the_solve_and_keeps_no_proposal(
    sessions: sessionmaker[Session], running_solve: tuple[int, InThread]
) -> None:
    """Cancelled while solving: the solve process and its searches end, no proposal is written."""
    run_id, execution = running_solve
    solve = solving(run_id)
    assert solve.pid is not None
    tree = {solve.pid} | descendants(solve.pid)
    cancelled_at = time.monotonic()
    with sessions.begin() as session:
        cancel_run(session, run_id)

    assert execution.join() == RunState.CANCELLED
    assert time.monotonic() - cancelled_at < 10  # far from the 60 s time limit
    assert the_run(sessions, run_id).state == RunState.CANCELLED
    assert plans_of(sessions, run_id) == 0
    wait_until(lambda: not any(alive(pid) for pid in tree), timeout_s=10)


def test_a_stopping_worker_fails_its_run_and_ends_the_solve(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """The worker asked to stop (SIGTERM) fails the run it was executing, with no proposal."""
    run_id = queued_run(sessions, oslo, LONG_S)
    stop = threading.Event()
    execution = InThread(sessions, run_id, should_stop=stop.is_set)
    wait_until(lambda: the_run(sessions, run_id).best_score is not None)
    solve = solving(run_id)

    stop.set()

    assert execution.join() == RunState.FAILED
    assert the_run(sessions, run_id).error == (
        "the worker was stopped before the run ended; ask for it again"
    )
    assert plans_of(sessions, run_id) == 0
    assert not solve.is_alive()


def test_a_solve_process_that_dies_fails_the_run(
    sessions: sessionmaker[Session], running_solve: tuple[int, InThread]
) -> None:
    """A solve process killed outright (out of memory, say) fails the run; no proposal, and
    its search processes, which could not be told, are ended too."""
    run_id, execution = running_solve
    solve = solving(run_id)
    assert solve.pid is not None
    searches = descendants(solve.pid)
    assert searches, "the search is not in processes of its own"

    os.kill(solve.pid, signal.SIGKILL)

    assert execution.join() == RunState.FAILED
    assert the_run(sessions, run_id).error == (
        f"the solve process ended without a plan (exit code {-signal.SIGKILL})"
    )
    assert plans_of(sessions, run_id) == 0
    wait_until(lambda: not any(alive(pid) for pid in searches), timeout_s=10)


def test_a_solve_that_overruns_its_time_limit_is_given_up(
    sessions: sessionmaker[Session], oslo: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A solve still going past its time limit and the allowance is stopped; the run fails."""
    monkeypatch.setattr(execute_module, "OVERRUN_S", 0.0)  # a 1 s solve cannot start that fast
    run_id = queued_run(sessions, oslo)

    assert execute_run(sessions, run_id) == RunState.FAILED
    assert the_run(sessions, run_id).error == (
        "the solve did not end within 0 s after the run's time limit"
    )
    assert plans_of(sessions, run_id) == 0


def test_stale_running_runs_are_failed_and_the_others_left_alone(
    sessions: sessionmaker[Session],
) -> None:
    """Only running runs whose heartbeat is older than the threshold are failed, with why."""
    days = [date(2031, 1, d) for d in (6, 7, 8)]
    stale, fresh, queued = (queued_run(sessions, day) for day in days)
    with sessions.begin() as session:
        for run_id in (stale, fresh):
            start_run(session, run_id)
        session.execute(
            update(PlanRun)
            .where(PlanRun.id == stale)
            .values(heartbeat_at=utcnow() - timedelta(seconds=31))
        )

    assert fail_stale_runs(sessions, stale_after_s=30) == [stale]

    assert the_run(sessions, stale).state == RunState.FAILED
    assert the_run(sessions, stale).error == (
        "its worker stopped answering (no heartbeat for over 30 s: the worker process died"
        " or lost the database); no plan was kept, ask for the run again"
    )
    assert the_run(sessions, fresh).state == RunState.RUNNING
    assert the_run(sessions, queued).state == RunState.QUEUED
    assert fail_stale_runs(sessions, stale_after_s=30) == []

"""``fieldops worker`` (and the local worker of ``fieldops serve``) as real processes.

On PostgreSQL the worker is procrastinate's, on SQLite the local one; every test runs
on both unless it says otherwise. Runs plan the small Oslo day for a second, or are
stopped early; "no process left" is judged by the process table.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import RunState
from dispatch.planning import cancel_run, request_run
from dispatch.planning.jobqueue import enqueue, reconcile
from tests.dispatch.test_run_execution import (
    LONG_S,
    alive,
    descendants,
    import_oslo,
    plans_of,
    the_run,
    wait_until,
)


class Fieldops:
    """A ``fieldops`` command running in a process of its own, its output kept in a file."""

    def __init__(self, tmp_path: Path, database_url: str, *args: str) -> None:
        self.log = tmp_path / f"{args[0]}.log"
        env = {**os.environ, "FIELDOPS_INSTANCE_PATH": str(tmp_path / "instance")}
        env.pop("DATABASE_URL", None)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from web.cli import main; main()"]
                + ["--database-url", database_url, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        """Send ``how`` and wait for the exit; the exit status."""
        self.process.send_signal(how)
        return self.process.wait(timeout=60)


@pytest.fixture
def start(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Fieldops]]:
    """Starts ``fieldops ARGS`` on the test's database; whatever is still running is killed."""
    started: list[Fieldops] = []

    def fieldops(*args: str) -> Fieldops:
        started.append(Fieldops(tmp_path, database_url, *args))
        return started[-1]

    yield fieldops
    for command in started:
        if command.process.poll() is None:
            command.process.kill()
            command.process.wait()


def enqueued(sessions: sessionmaker[Session], day: date, time_limit_s: int = 1) -> int:
    with sessions.begin() as session:
        return enqueue(session, day, time_limit_s=time_limit_s, requested_by=None).id


def ended(sessions: sessionmaker[Session], run_id: int) -> RunState:
    """The run's state once it has ended (waits for it)."""
    wait_until(lambda: the_run(sessions, run_id).state not in (RunState.QUEUED, RunState.RUNNING))
    return the_run(sessions, run_id).state


def searching(sessions: sessionmaker[Session], run_id: int) -> None:
    """Wait until the run's search is under way (it has recorded progress)."""
    wait_until(lambda: the_run(sessions, run_id).best_score is not None)


def test_the_worker_executes_a_run_to_its_proposal(
    sessions: sessionmaker[Session], start: Callable[..., Fieldops], database_url: str
) -> None:
    """A run asked for is executed by the worker: progress recorded, succeeded, a proposal."""
    run_id = enqueued(sessions, import_oslo(sessions))

    worker = start("worker")

    assert ended(sessions, run_id) == RunState.SUCCEEDED
    run = the_run(sessions, run_id)
    assert run.best_score is not None and run.served and run.elapsed_s is not None
    assert plans_of(sessions, run_id) == 1
    assert worker.stop() == 0
    kind = "procrastinate" if database_url.startswith("postgresql") else "local"
    assert f"Worker: {kind}" in worker.output
    assert "Traceback" not in worker.output


def test_a_run_committed_without_its_queue_job_is_executed(
    sessions: sessionmaker[Session], start: Callable[..., Fieldops]
) -> None:
    """The crash between the run's commit and its queue job: the worker's reconcile mends it."""
    with sessions.begin() as session:  # request_run alone: what enqueue would leave, halfway
        run_id = request_run(session, import_oslo(sessions), time_limit_s=1, requested_by=None).id

    start("worker")

    assert ended(sessions, run_id) == RunState.SUCCEEDED
    assert plans_of(sessions, run_id) == 1


def test_a_cancel_mid_run_ends_the_solve_and_the_worker_goes_on(
    sessions: sessionmaker[Session], start: Callable[..., Fieldops]
) -> None:
    """Cancelled while solving: no proposal, no solve process left, and the worker still serves."""
    run_id = enqueued(sessions, import_oslo(sessions), LONG_S)
    worker = start("worker")
    searching(sessions, run_id)
    solves = solve_processes(worker.process.pid)

    with sessions.begin() as session:
        cancel_run(session, run_id)

    wait_until(lambda: not any(alive(pid) for pid in solves), timeout_s=15)
    assert the_run(sessions, run_id).state == RunState.CANCELLED
    assert plans_of(sessions, run_id) == 0
    assert worker.process.poll() is None


def test_a_worker_killed_mid_run_leaves_a_failed_run_and_no_process(
    sessions: sessionmaker[Session], start: Callable[..., Fieldops]
) -> None:
    """SIGKILL mid-run: its solve processes end by themselves; reconcile fails the run; no plan."""
    run_id = enqueued(sessions, import_oslo(sessions), LONG_S)
    worker = start("worker")
    searching(sessions, run_id)
    solves = solve_processes(worker.process.pid)

    worker.stop(signal.SIGKILL)

    wait_until(lambda: not any(alive(pid) for pid in solves), timeout_s=15)
    assert the_run(sessions, run_id).state == RunState.RUNNING  # nobody could say otherwise
    time.sleep(2.0)  # the last heartbeat is now over a second older than the threshold below
    assert reconcile(sessions, stale_after_s=1.0).failed == [run_id]
    run = the_run(sessions, run_id)
    assert run.state == RunState.FAILED
    assert run.error is not None and run.error.startswith("its worker stopped answering")
    assert plans_of(sessions, run_id) == 0


def test_serve_executes_runs_in_its_local_worker_on_sqlite(
    sessions: sessionmaker[Session], start: Callable[..., Fieldops], database_url: str
) -> None:
    """The embedded default needs no other service: `fieldops serve` executes the runs."""
    if not database_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL `fieldops worker` processes execute the runs")
    run_id = enqueued(sessions, import_oslo(sessions))

    server = start("serve", "--port", str(_free_port()))

    assert ended(sessions, run_id) == RunState.SUCCEEDED
    assert plans_of(sessions, run_id) == 1
    found = re.search(r"local worker \(process (\d+)\)", server.output)
    assert found, server.output
    server.stop()  # SIGTERM ends the server at once; its worker sees it is gone and stops
    wait_until(lambda: not alive(int(found.group(1))), timeout_s=15)


def solve_processes(worker_pid: int) -> set[int]:
    """The worker's solve process and the search processes below it.

    Not multiprocessing's resource tracker, which serves the worker as long as it lives.
    """
    found = {
        pid
        for pid in descendants(worker_pid)
        if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()
    }
    assert found, "the run is not solved in a process of its own"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

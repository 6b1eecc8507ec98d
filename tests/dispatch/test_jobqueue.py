"""The plan runs' job queues: enqueue with its job in one transaction, reconcile, the local worker.

procrastinate's tables exist on PostgreSQL only; the tests that read them are marked so.
The worker processes themselves (``fieldops worker``, killed and all) are tested in
``tests/web/test_cli_worker.py``.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import utcnow
from dispatch.enums import RunState
from dispatch.models import PlanRun
from dispatch.planning import RunInProgress, request_run, start_run
from dispatch.planning.execute import Progress, execute_run
from dispatch.planning.jobqueue import (
    QUEUE,
    TASK,
    Reconciled,
    enqueue,
    procrastinate_conninfo,
    reconcile,
    run_local_worker,
    wait_for_run,
)
from tests.dispatch.test_run_execution import import_oslo, plans_of, the_run, wait_until
from tests.helpers import count_rows

NO_SERVICE_DAY = date(2031, 1, 6)


def jobs(engine: Engine) -> list[dict[str, Any]]:
    """procrastinate's jobs, as another connection sees them."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, status, task_name, args, queue_name FROM procrastinate_jobs ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


def enqueued(sessions: sessionmaker[Session], day: date, time_limit_s: int = 1) -> int:
    with sessions.begin() as session:
        return enqueue(session, day, time_limit_s=time_limit_s, requested_by=None).id


@pytest.mark.postgresql_only
def test_enqueue_writes_the_run_and_its_job_in_the_callers_transaction(
    sessions: sessionmaker[Session], engine: Engine, database_url: str
) -> None:
    """Uncommitted, neither is seen; rolled back (a crash before commit), neither remains."""
    with sessions() as session:
        enqueue(session, NO_SERVICE_DAY, time_limit_s=5, requested_by=None)
        assert count_rows(database_url, PlanRun) == 0
        assert jobs(engine) == []
        session.rollback()
    assert count_rows(database_url, PlanRun) == 0
    assert jobs(engine) == []

    run_id = enqueued(sessions, NO_SERVICE_DAY)

    [job] = jobs(engine)
    assert the_run(sessions, run_id).queue_job_id == job["id"]
    assert job == {
        "id": job["id"],
        "status": "todo",
        "task_name": TASK,
        "args": {"run_id": run_id},
        "queue_name": QUEUE,
    }


def test_a_second_run_for_a_day_is_refused_naming_the_first(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Two runs for one date: the second is refused with the active run's id (the API's 409)."""
    first = enqueued(sessions, NO_SERVICE_DAY)

    with pytest.raises(RunInProgress) as refused, sessions.begin() as session:
        enqueue(session, NO_SERVICE_DAY, time_limit_s=1, requested_by=None)

    assert refused.value.run_id == first
    assert str(refused.value) == f"run {first} for 2031-01-06 is already queued"
    if engine.dialect.name == "postgresql":
        assert [job["args"] for job in jobs(engine)] == [{"run_id": first}]


@pytest.mark.postgresql_only
def test_a_run_committed_without_its_job_gets_one_from_reconcile(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    """The crash between the run's commit and its job: reconcile defers the job, once."""
    with sessions.begin() as session:
        run_id = request_run(session, NO_SERVICE_DAY, time_limit_s=1, requested_by=None).id

    assert reconcile(sessions) == Reconciled(failed=[], requeued=[run_id])

    [job] = jobs(engine)
    assert (job["status"], job["args"]) == ("todo", {"run_id": run_id})
    assert the_run(sessions, run_id).queue_job_id == job["id"]
    assert reconcile(sessions) == Reconciled(failed=[], requeued=[])
    assert len(jobs(engine)) == 1


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    "lost_job",
    [
        # A worker took the job and died before claiming the run.
        "UPDATE procrastinate_jobs SET status = 'doing'",
        "UPDATE procrastinate_jobs SET status = 'failed'",
        "DELETE FROM procrastinate_jobs",
    ],
)
def test_a_queued_run_whose_job_no_longer_waits_gets_a_new_one(
    sessions: sessionmaker[Session], engine: Engine, lost_job: str
) -> None:
    """Only a job still waiting (todo) counts: any other leaves the run a new job."""
    run_id = enqueued(sessions, NO_SERVICE_DAY)
    with engine.begin() as connection:
        connection.execute(text(lost_job))

    assert reconcile(sessions).requeued == [run_id]

    waiting = [job for job in jobs(engine) if job["status"] == "todo"]
    assert [job["args"] for job in waiting] == [{"run_id": run_id}]
    assert the_run(sessions, run_id).queue_job_id == waiting[0]["id"]


def test_reconcile_fails_runs_whose_worker_died_and_leaves_waiting_runs(
    sessions: sessionmaker[Session],
) -> None:
    """A running run without heartbeat is failed; an enqueued run keeps its one job."""
    dead = enqueued(sessions, NO_SERVICE_DAY)
    waiting = enqueued(sessions, NO_SERVICE_DAY + timedelta(days=1))
    with sessions.begin() as session:
        start_run(session, dead)
        session.execute(
            update(PlanRun)
            .where(PlanRun.id == dead)
            .values(heartbeat_at=utcnow() - timedelta(minutes=5))
        )

    assert reconcile(sessions) == Reconciled(failed=[dead], requeued=[])
    assert the_run(sessions, dead).state == RunState.FAILED
    assert the_run(sessions, waiting).state == RunState.QUEUED


def test_the_local_worker_executes_queued_runs_oldest_first_until_stopped(
    sessions: sessionmaker[Session],
) -> None:
    """The SQLite queue: queued rows of plan_runs, claimed and executed in order of request."""
    planned = enqueued(sessions, import_oslo(sessions))
    unplannable = enqueued(sessions, NO_SERVICE_DAY)
    stop = threading.Event()
    worker = threading.Thread(target=run_local_worker, args=(sessions, stop))
    worker.start()
    try:
        wait_until(lambda: the_run(sessions, unplannable).state == RunState.FAILED)
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()

    first, second = the_run(sessions, planned), the_run(sessions, unplannable)
    assert first.state == RunState.SUCCEEDED and plans_of(sessions, planned) == 1
    assert first.started_at is not None and second.started_at is not None
    assert first.started_at < second.started_at
    assert second.error is not None and "no service day on 2031-01-06" in second.error


def test_wait_for_run_reports_progress_and_returns_the_ended_run(
    sessions: sessionmaker[Session],
) -> None:
    """Waiting on a run executed elsewhere: the best progress as recorded, then the ended run."""
    run_id = enqueued(sessions, import_oslo(sessions), time_limit_s=2)
    executing = threading.Thread(target=execute_run, args=(sessions, run_id))
    executing.start()
    seen: list[Progress] = []

    run = wait_for_run(sessions, run_id, on_progress=seen.append, poll_s=0.2)
    executing.join(30)

    assert run.state == RunState.SUCCEEDED
    assert seen and seen[-1].score == run.best_score and seen[-1].served == run.served
    assert [p.score for p in seen] == sorted((p.score for p in seen), reverse=True)


@pytest.mark.parametrize(
    ("url", "conninfo"),
    [
        ("postgresql://fieldops@db.example/fieldops", "postgresql://fieldops@db.example/fieldops"),
        ("postgresql+psycopg://u:p%40ss@h:5433/d", "postgresql://u:p%40ss@h:5433/d"),
        (
            "postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dfieldops_test_1",
            "postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dfieldops_test_1",
        ),
    ],
)
def test_procrastinate_connects_to_the_same_database_and_schema(url: str, conninfo: str) -> None:
    """SQLAlchemy's URL without the driver name, password and server options (search_path) kept."""
    assert procrastinate_conninfo(url) == conninfo

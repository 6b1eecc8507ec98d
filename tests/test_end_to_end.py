"""Planning inside the product, end to end, with real processes on each database.

Import the Stockholm day -> the scheduler's nightly job queues its plan -> a real worker
(procrastinate's ``fieldops worker`` on PostgreSQL, the embedded local worker on SQLite)
runs it -> the proposal is published -> work starts -> a technician goes sick -> the
re-plan keeps started jobs where they are and reassigns the sick technician's -> the SLA
watch escalates a job predicted late.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import JobStatus, PlanStatus, Priority, RunState
from dispatch.lifecycle import transition
from dispatch.models import Event, Job, Plan, PlanRun, Technician
from dispatch.planning import publish, published
from dispatch.planning.jobqueue import start_local_worker, stop_local_worker
from dispatch.planning.live import technician_unavailable
from dispatch.planning.proposals import assignments
from dispatch.planning.watch import sla_watch
from dispatch.scenario import import_scenario
from tests.dispatch.test_run_execution import wait_until
from tests.web.test_cli_worker import Fieldops

STOCKHOLM = Path(__file__).parent / "data" / "fieldservice" / "stockholm-20x120.json"
#: The evening before the Stockholm day, when the nightly plan is due.
EVENING = "2026-11-23T18:00:00+01:00"
RUN_WAIT_S = 120


@pytest.fixture
def worker(database_url: str, tmp_path: Path, sessions: sessionmaker[Session]) -> Iterator[None]:
    """The database's worker, as production runs it, for the test's duration."""
    if database_url.startswith("sqlite"):
        process = start_local_worker(database_url)
        yield
        stop_local_worker(process)
        return
    command = Fieldops(tmp_path, database_url, "worker")
    yield
    command.stop()


def finished_run(sessions: sessionmaker[Session], where: Callable[[PlanRun], bool]) -> PlanRun:
    """The first run matching ``where`` once it has ended (waits for the worker)."""

    found: list[PlanRun] = []

    def ended() -> bool:
        with sessions() as session:
            found[:] = [
                run
                for run in session.scalars(select(PlanRun).order_by(PlanRun.id))
                if where(run) and run.state not in (RunState.QUEUED, RunState.RUNNING)
            ]
        return bool(found)

    wait_until(ended, timeout_s=RUN_WAIT_S)
    return found[0]


def proposal_of(session: Session, run: PlanRun) -> Plan:
    assert run.state == RunState.SUCCEEDED, run.error
    plan = session.scalar(select(Plan).where(Plan.run_id == run.id))
    assert plan is not None
    return plan


def test_nightly_plan_publish_sick_technician_replan_and_sla_escalation(
    database_url: str,
    tmp_path: Path,
    sessions: sessionmaker[Session],
    worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = json.loads(STOCKHOLM.read_text())
    day = date.fromisoformat(document["date"])
    with sessions.begin() as session:
        import_scenario(session, document)

    # The scheduler's nightly job, every second in this test, queues the day's plan once.
    monkeypatch.setenv("FIELDOPS_NIGHTLY_PLAN_EVERY_S", "1")
    monkeypatch.setenv("FIELDOPS_NIGHTLY_TIME_LIMIT_S", "3")
    scheduler = Fieldops(tmp_path, database_url, "scheduler", "--now", EVENING)
    try:
        nightly = finished_run(sessions, lambda run: not run.replan)
    finally:
        scheduler.stop()
    with sessions.begin() as session:
        assert session.query(PlanRun).count() == 1, "the nightly job queued the day once"
        plan = proposal_of(session, nightly)
        publish(session, plan.id, user_id=None)
        routes = assignments(plan.document)

    # Morning: every technician sets off for their first job; one of them then falls ill.
    sick_code, sick_jobs = max(routes.items(), key=lambda item: len(item[1]))
    with sessions.begin() as session:
        jobs = {job.reference: job for job in session.scalars(select(Job))}
        started = {}
        for code, references in routes.items():
            if references:
                first = jobs[references[0]]
                transition(session, first, JobStatus.DISPATCHED)
                transition(session, first, JobStatus.EN_ROUTE)
                started[first.reference] = code
        sick = session.scalars(select(Technician).where(Technician.code == sick_code)).one()
        emergency = any(jobs[job].priority == Priority.EMERGENCY for job in sick_jobs)
        unavailable = technician_unavailable(session, sick, day, "called in sick")
    assert unavailable.replan is not None and unavailable.replan.run_id is not None
    assert set(unavailable.returned) == set(sick_jobs)
    replan_id = unavailable.replan.run_id

    replan = finished_run(sessions, lambda run: run.id == replan_id)
    with sessions.begin() as session:
        proposal = proposal_of(session, replan)
        after = assignments(proposal.document)
        assert sick_code not in after or not after[sick_code]
        for reference, code in started.items():  # work under way stays first, in place
            if code != sick_code:
                assert after[code][0] == reference
        reassigned = {job for code, refs in after.items() for job in refs} & set(sick_jobs)
        assert reassigned, "the sick technician's jobs went to others"
        # Others' jobs mostly stay where they were: the stability cost. (A fresh solve
        # reshuffles most of them; how few move depends on how long the search ran,
        # which a loaded CI machine shortens, so the bound is a quarter, not a count.)
        moved = [m for m in proposal.diff["moved"] if m["from"] != sick_code]
        others_jobs = sum(len(refs) for code, refs in routes.items() if code != sick_code)
        assert len(moved) <= others_jobs // 4
        # A re-plan for an emergency job publishes itself (FIELDOPS_AUTO_PUBLISH's default).
        assert (proposal.status == PlanStatus.PUBLISHED) == emergency
        if not emergency:
            publish(session, proposal.id, user_id=None)
        assert session.get(Plan, proposal.id).status == PlanStatus.PUBLISHED  # type: ignore[union-attr]

    # Midday: a job due soon is predicted to finish after its SLA; the watch escalates it.
    with sessions.begin() as session:
        current = published(session, day)
        assert current is not None and current[0] == 2
        late = session.scalars(
            select(Job)
            .where(Job.status == JobStatus.SCHEDULED, Job.planned_end.is_not(None))
            .order_by(Job.planned_end.desc())
        ).first()
        assert late is not None and late.planned_end is not None
        late.sla_due = late.planned_end - timedelta(minutes=30)
        reference, priority = late.reference, late.priority
        now = late.planned_end - timedelta(hours=2)
    with sessions.begin() as session:
        report = sla_watch(session, now=now)
    assert reference in {alert.job for alert in report.escalated}
    with sessions() as session:
        escalated = session.scalars(select(Job).where(Job.reference == reference)).one()
        assert escalated.priority != priority
        alerts = session.scalars(select(Event).where(Event.entity_type == "alert")).all()
        assert any(reference in json.dumps(alert.changes) for alert in alerts)
    with sessions.begin() as session:
        again = sla_watch(session, now=now + timedelta(minutes=1))
    assert reference not in {alert.job for alert in again.escalated}, "escalated once"

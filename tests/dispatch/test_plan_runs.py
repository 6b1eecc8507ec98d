"""Plan runs: the state table, one active run per day (decided by the database), progress."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import RunState
from dispatch.models import PlanRun
from dispatch.planning import (
    RUN_TRANSITIONS,
    RunInProgress,
    RunNotFound,
    RunTransitionRefused,
    active_run,
    cancel_run,
    fail_run,
    finish_run,
    record_progress,
    request_run,
    start_run,
)
from tests.helpers import race

DAY = date(2026, 12, 1)
OTHER_DAY = date(2026, 12, 2)
FINAL = {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}


def _move(session: Session, run_id: int, target: RunState) -> PlanRun:
    """Apply one move of the table through its service function."""
    if target == RunState.RUNNING:
        return start_run(session, run_id)
    if target == RunState.SUCCEEDED:
        return finish_run(session, run_id)
    if target == RunState.FAILED:
        return fail_run(session, run_id, "solver crashed")
    if target == RunState.CANCELLED:
        return cancel_run(session, run_id)
    raise AssertionError(f"no service function moves a run to {target}")


#: The allowed moves that bring a new (queued) run to each state.
PATHS: dict[RunState, list[RunState]] = {
    RunState.QUEUED: [],
    RunState.RUNNING: [RunState.RUNNING],
    **{final: [RunState.RUNNING, final] for final in FINAL},
}


def _run_in(session: Session, state: RunState, day: date = DAY) -> PlanRun:
    """A run of ``day`` brought to ``state`` by allowed moves only."""
    run = request_run(session, day, time_limit_s=30, requested_by=None)
    for target in PATHS[state]:
        _move(session, run.id, target)
    return run


ALLOWED = [(current, target) for current, targets in RUN_TRANSITIONS.items() for target in targets]
REFUSED = [
    (current, target)
    for current in RunState
    for target in RunState
    if target != RunState.QUEUED and target not in RUN_TRANSITIONS[current]
]


def test_final_states_allow_no_move() -> None:
    """Succeeded, failed and cancelled are final: the table lists nothing after them."""
    assert {state for state, targets in RUN_TRANSITIONS.items() if not targets} == FINAL


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_allowed_move_works(session: Session, current: RunState, target: RunState) -> None:
    """Each move in the table takes the run to its target and stamps the instants it implies."""
    run = _run_in(session, current)

    _move(session, run.id, target)

    stored = session.get(PlanRun, run.id)
    assert stored is not None and stored.state == target
    assert (stored.started_at is not None) == (RunState.RUNNING in (current, target))
    assert (stored.finished_at is not None) == (target in FINAL)


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_every_other_move_is_refused_naming_the_states(
    session: Session, current: RunState, target: RunState
) -> None:
    """A move outside the table changes nothing and names the current and allowed states."""
    run = _run_in(session, current)

    with pytest.raises(RunTransitionRefused) as refused:
        _move(session, run.id, target)

    assert (refused.value.current, refused.value.target) == (current, target)
    assert f"it is {current}" in str(refused.value)
    expected = ", ".join(sorted(RUN_TRANSITIONS[current])) or "none (final state)"
    assert f"allowed next: {expected}" in str(refused.value)
    assert session.get(PlanRun, run.id).state == current  # type: ignore[union-attr]


def test_a_new_run_is_queued_with_who_asked(session: Session) -> None:
    """A requested run is queued for its day with its time limit and no result yet."""
    run = request_run(session, DAY, time_limit_s=45, requested_by=None)

    assert (run.state, run.service_date, run.time_limit_s) == (RunState.QUEUED, DAY, 45)
    assert run.requested_by_id is None and run.best_score is None
    assert active_run(session, DAY) is run


def test_a_non_positive_time_limit_is_refused(session: Session) -> None:
    """A run without time to search is refused before anything is written."""
    with pytest.raises(ValueError, match="positive"):
        request_run(session, DAY, time_limit_s=0, requested_by=None)

    assert session.scalars(select(PlanRun)).all() == []


@pytest.mark.parametrize("state", [RunState.QUEUED, RunState.RUNNING])
def test_a_second_active_run_of_the_day_is_refused_naming_the_first(
    session: Session, state: RunState
) -> None:
    """While a run of the day is queued or running, another request names it and adds nothing."""
    first = _run_in(session, state)

    with pytest.raises(RunInProgress) as refused:
        request_run(session, DAY, time_limit_s=30, requested_by=None)

    assert (refused.value.run_id, refused.value.state) == (first.id, state)
    assert f"run {first.id}" in str(refused.value)
    assert [run.id for run in session.scalars(select(PlanRun))] == [first.id]


def test_the_refusal_leaves_the_callers_transaction_usable(
    sessions: sessionmaker[Session],
) -> None:
    """After a refused request the caller can still write and commit its other work."""
    with sessions() as session:
        first = request_run(session, DAY, time_limit_s=30, requested_by=None)
        with pytest.raises(RunInProgress):
            request_run(session, DAY, time_limit_s=30, requested_by=None)
        other = request_run(session, OTHER_DAY, time_limit_s=30, requested_by=None)
        session.commit()

    with sessions() as session:
        stored = session.scalars(select(PlanRun.id).order_by(PlanRun.id)).all()
        assert stored == [first.id, other.id]


def test_requesting_a_run_does_not_commit(sessions: sessionmaker[Session]) -> None:
    """The run is written in the caller's transaction: rolling it back leaves no run."""
    with sessions() as session:
        request_run(session, DAY, time_limit_s=30, requested_by=None)
        session.rollback()

    with sessions() as session:
        assert session.scalars(select(PlanRun)).all() == []


def test_a_run_of_another_day_is_accepted(session: Session) -> None:
    """The limit is per day: another day's run is queued beside the active one."""
    _run_in(session, RunState.RUNNING)

    other = request_run(session, OTHER_DAY, time_limit_s=30, requested_by=None)

    assert other.state == RunState.QUEUED


@pytest.mark.parametrize("final", sorted(FINAL))
def test_a_new_run_is_accepted_once_the_first_has_ended(session: Session, final: RunState) -> None:
    """A succeeded, failed or cancelled run no longer blocks its day."""
    first = _run_in(session, final)

    second = request_run(session, DAY, time_limit_s=30, requested_by=None)

    assert second.id != first.id
    assert active_run(session, DAY) is second


def test_progress_keeps_the_best_score(session: Session) -> None:
    """Only improvements are stored: a worse score later leaves the better one in place."""
    run = _run_in(session, RunState.RUNNING)

    assert record_progress(session, run.id, score=900.0, served=40, elapsed_s=1.0)
    assert record_progress(session, run.id, score=700.0, served=44, elapsed_s=2.5)
    assert not record_progress(session, run.id, score=800.0, served=45, elapsed_s=3.0)
    assert not record_progress(session, run.id, score=700.0, served=45, elapsed_s=3.5)

    session.refresh(run)
    assert (run.best_score, run.served, run.elapsed_s) == (700.0, 44, 2.5)


@pytest.mark.parametrize("state", [RunState.QUEUED, *sorted(FINAL)])
def test_progress_of_a_run_not_running_is_ignored(session: Session, state: RunState) -> None:
    """A late progress message (after a cancel, say) changes nothing."""
    run = _run_in(session, state)

    assert not record_progress(session, run.id, score=10.0, served=50, elapsed_s=9.0)

    session.refresh(run)
    assert (run.state, run.best_score, run.served) == (state, None, None)


def test_progress_after_cancel_keeps_the_last_best(session: Session) -> None:
    """A run cancelled mid-search keeps the best it had, whatever arrives afterwards."""
    run = _run_in(session, RunState.RUNNING)
    record_progress(session, run.id, score=500.0, served=30, elapsed_s=4.0)
    cancel_run(session, run.id)

    assert not record_progress(session, run.id, score=100.0, served=60, elapsed_s=8.0)

    session.refresh(run)
    assert (run.state, run.best_score, run.served) == (RunState.CANCELLED, 500.0, 30)


def test_a_failed_run_keeps_its_error(session: Session) -> None:
    """Failing a run stores why; an empty reason is refused."""
    run = _run_in(session, RunState.RUNNING)

    with pytest.raises(ValueError, match="error message"):
        fail_run(session, run.id, "  ")
    fail_run(session, run.id, "worker died")

    assert (run.state, run.error) == (RunState.FAILED, "worker died")


def test_an_unknown_run_is_reported(session: Session) -> None:
    """Moving or reporting on a run id that does not exist names the id."""
    with pytest.raises(RunNotFound, match="42"):
        start_run(session, 42)
    with pytest.raises(RunNotFound, match="42"):
        record_progress(session, 42, score=1.0, served=1, elapsed_s=1.0)


@pytest.mark.postgresql_only
def test_concurrent_requests_for_one_day_start_one_run(sessions: sessionmaker[Session]) -> None:
    """Two transactions asking at once: one run is queued, the other is told which it is."""

    def request(session: Session) -> PlanRun | RunInProgress:
        try:
            return request_run(session, DAY, time_limit_s=30, requested_by=None)
        except RunInProgress as refused:
            return refused

    outcomes = race(sessions, 2, request, hold_s=0.2)  # the other insert must wait
    runs = [outcome for outcome in outcomes if isinstance(outcome, PlanRun)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, RunInProgress)]
    assert (len(runs), len(refusals)) == (1, 1)
    assert (refusals[0].run_id, refusals[0].state) == (runs[0].id, RunState.QUEUED)
    with sessions() as session:
        assert session.scalars(select(PlanRun.id)).all() == [runs[0].id]


def test_the_database_itself_refuses_a_second_active_run(session: Session) -> None:
    """Rows written past the service still meet the partial unique index."""
    session.add(PlanRun(service_date=DAY, state=RunState.RUNNING, time_limit_s=30))
    session.flush()
    session.add(PlanRun(service_date=DAY, state=RunState.SUCCEEDED, time_limit_s=30))
    session.flush()  # ended runs are not limited

    session.add(PlanRun(service_date=DAY, state=RunState.QUEUED, time_limit_s=30))
    with pytest.raises(IntegrityError):
        session.flush()


def test_progress_after_a_cancel_committed_elsewhere_is_ignored(
    sessions: sessionmaker[Session],
) -> None:
    """A worker holding the run as running does not overwrite a cancel another session made."""
    with sessions() as setup:
        run_id = _run_in(setup, RunState.RUNNING).id
        setup.commit()

    with sessions() as worker, sessions() as dispatcher:
        assert worker.get(PlanRun, run_id).state == RunState.RUNNING  # type: ignore[union-attr]
        cancel_run(dispatcher, run_id)
        dispatcher.commit()

        assert not record_progress(worker, run_id, score=1.0, served=5, elapsed_s=2.0)
        worker.commit()

    with sessions() as check:
        stored = check.get(PlanRun, run_id)
        assert stored is not None
        assert (stored.state, stored.best_score) == (RunState.CANCELLED, None)

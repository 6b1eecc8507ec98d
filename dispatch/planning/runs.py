"""The run record of an optimization: one state table, enforced here and nowhere else.

queued -> running -> succeeded | failed | cancelled; a queued run can also be
cancelled, or failed when it can never start (its queue job is lost). Succeeded,
failed and cancelled are final. At most one run per service day is active (queued
or running): the database's partial unique index decides, so two requests racing
for the same day cannot both win.

Functions change the record and flush; the caller's transaction commits.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.db import savepoint, utcnow
from dispatch.enums import RunState
from dispatch.models import PlanRun

R = RunState

ACTIVE: frozenset[RunState] = frozenset({R.QUEUED, R.RUNNING})

#: Every allowed move; the final states allow none.
RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    R.QUEUED: frozenset({R.RUNNING, R.FAILED, R.CANCELLED}),
    R.RUNNING: frozenset({R.SUCCEEDED, R.FAILED, R.CANCELLED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
    R.CANCELLED: frozenset(),
}


class RunNotFound(LookupError):
    """No run has the given id."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        super().__init__(f"no plan run with id {run_id}")


class RunInProgress(Exception):
    """A day already has an active run; the API answers 409 naming it."""

    def __init__(self, active: PlanRun) -> None:
        self.run_id = active.id
        self.state = active.state
        self.service_date = active.service_date
        super().__init__(
            f"run {active.id} for {active.service_date.isoformat()} is already {active.state}"
        )


class RunTransitionRefused(Exception):
    """A state change the run's table does not allow; nothing changed."""

    def __init__(self, run: PlanRun, target: RunState) -> None:
        self.run_id = run.id
        self.current = run.state
        self.target = target
        self.allowed = sorted(RUN_TRANSITIONS[run.state])
        allowed = ", ".join(self.allowed) or "none (final state)"
        super().__init__(
            f"run {run.id} cannot go from {run.state} to {target}; "
            f"it is {run.state}, allowed next: {allowed}"
        )


def request_run(
    session: Session,
    day: date,
    *,
    time_limit_s: int,
    requested_by: int | None,
    reason: str = "",
    replan: bool = False,
    auto_publish: bool = False,
) -> PlanRun:
    """Record a queued run for ``day``, unless the day already has an active one.

    Parameters
    ----------
    day
        The service day to plan.
    time_limit_s
        How long the search may run, in whole seconds (positive).
    requested_by
        Id of the user who asked; None for the scheduler.
    reason
        Why ("nightly plan", "emergency SR-2026-00042"), shown beside the run.
    replan
        Start from the day's published plan and keep its jobs with their technicians
        where possible, instead of planning afresh.
    auto_publish
        Publish the proposal as soon as it is ready, if the published plan has not
        changed meanwhile (the re-planning policy for urgent events).

    Raises
    ------
    RunInProgress
        The day has a queued or running run (possibly one a concurrent transaction
        has just committed); it carries that run's id and state.
    ValueError
        ``time_limit_s`` is not positive.
    """
    if time_limit_s <= 0:
        raise ValueError(f"time limit must be a positive number of seconds, not {time_limit_s}")
    run = PlanRun(
        service_date=day,
        state=R.QUEUED,
        time_limit_s=time_limit_s,
        requested_by_id=requested_by,
        reason=reason,
        replan=replan,
        auto_publish=auto_publish,
    )
    try:
        with savepoint(session):
            session.add(run)
            session.flush()
    except IntegrityError:
        active = active_run(session, day)
        if active is None:  # another constraint (e.g. an unknown user): not ours to explain
            raise
        raise RunInProgress(active) from None
    return run


def active_run(session: Session, day: date) -> PlanRun | None:
    """The queued or running run of ``day``, if there is one."""
    return session.scalars(
        select(PlanRun).where(PlanRun.service_date == day, PlanRun.state.in_(ACTIVE))
    ).one_or_none()


def start_run(session: Session, run_id: int) -> PlanRun:
    """A worker took the run: it is running from now."""
    run = _move(session, run_id, R.RUNNING)
    run.started_at = run.heartbeat_at = utcnow()
    session.flush()
    return run


def record_progress(
    session: Session, run_id: int, *, score: float, served: int, elapsed_s: float
) -> bool:
    """Keep the search's new best, if it is better than the stored one.

    Ignored (returns False) when the run is no longer running, e.g. a message that
    arrives after the run was cancelled, or when ``score`` does not improve on the
    best so far (lower is better). Returns True when the record changed. One
    conditional UPDATE decides, so a cancel committed meanwhile is never overwritten.
    """
    improved = session.scalar(
        update(PlanRun)
        .where(
            PlanRun.id == run_id,
            PlanRun.state == R.RUNNING,
            or_(PlanRun.best_score.is_(None), PlanRun.best_score > score),
        )
        .values(best_score=score, served=served, elapsed_s=elapsed_s, heartbeat_at=utcnow())
        .returning(PlanRun.id)
        .execution_options(synchronize_session="fetch")
    )
    if improved is None:
        _get(session, run_id)  # an unknown id is an error, not an ignored message
        return False
    return True


def finish_run(session: Session, run_id: int) -> PlanRun:
    """The search ended and its best plan is kept."""
    return _end(session, run_id, R.SUCCEEDED)


def fail_run(session: Session, run_id: int, error: str) -> PlanRun:
    """The run could not finish (or never started); ``error`` says why, for the dispatcher."""
    if not error.strip():
        raise ValueError("a failed run needs an error message")
    run = _end(session, run_id, R.FAILED)
    run.error = error
    session.flush()
    return run


def cancel_run(session: Session, run_id: int) -> PlanRun:
    """Stop a queued or running run; progress reported later is ignored."""
    return _end(session, run_id, R.CANCELLED)


def _end(session: Session, run_id: int, target: RunState) -> PlanRun:
    run = _move(session, run_id, target)
    run.finished_at = utcnow()
    session.flush()
    return run


def _move(session: Session, run_id: int, target: RunState) -> PlanRun:
    """Move the run to ``target`` if its current state allows it, in one conditional UPDATE.

    The condition is checked by the database as it writes, so a cancel and a finish
    racing from two processes are decided in turn on SQLite as well as PostgreSQL.
    """
    sources = [state for state, targets in RUN_TRANSITIONS.items() if target in targets]
    moved = session.scalar(
        update(PlanRun)
        .where(PlanRun.id == run_id, PlanRun.state.in_(sources))
        .values(state=target)
        .returning(PlanRun.id)
        .execution_options(synchronize_session=False)
    )
    run = _get(session, run_id)
    if moved is None:
        raise RunTransitionRefused(run, target)
    return run


def _get(session: Session, run_id: int) -> PlanRun:
    """The run as stored now (read afresh: another process may have moved it)."""
    run = session.get(PlanRun, run_id, populate_existing=True)
    if run is None:
        raise RunNotFound(run_id)
    return run

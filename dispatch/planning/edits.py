"""Manual edits of a day's plan: assign, move, unassign, pin and unpin one job.

An edit starts from the day's published plan as the day stands now (jobs since finished
or cancelled and technicians no longer working drop out; jobs under way open their
technician's route), changes one or two routes, has them timed by the engine's route
schedule (``optimizer.retime_route``) and checks the whole plan with the engine's checker
against ``build_problem``. A broken hard rule refuses the edit with the checker's reasons
(``EditRefused``) before anything is written; added SLA lateness is allowed and comes
back as warnings. The result is stored as a plan and published at once through
``publish`` with the version the dispatcher saw, so an edit built on a version that has
moved on is refused (``StalePlan``, the API's 409) rather than applied over the change.
As with ``publish``, the caller commits, or rolls back on any exception.

Decisions:

- Before the first publish an edit starts from an empty plan (every open job
  unassigned) at version 0, so a dispatcher may plan a day by hand.
- Pinning puts the job with the technician (moving it there when it is elsewhere) and
  records the pin on the job, so every later plan keeps it there; unpinning only lifts
  the pin. Both publish a new version: a pin and an edit racing to move the same job
  must not both win.
- Work under way stays where it is: such a job may only be pinned to (or unpinned
  from) the technician doing it.
- A job taken off by hand is listed as unassigned with the code ``not_enough_time``,
  the stand-in the plan format uses when it has no code (``PlanReader``); its sentence
  says a dispatcher took it off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import Job, Plan, Technician
from dispatch.planning.problem import build_problem
from dispatch.planning.proposals import new_plan, published
from dispatch.planning.publish import StalePlan, publish
from optimizer import (
    PlanReader,
    Problem,
    Reason,
    Route,
    Solution,
    Stop,
    StopKind,
    Unassigned,
    Violation,
    apply_candidate,
    check,
    insertion_candidates,
    retime_route,
)


class EditAction(StrEnum):
    ASSIGN = "assign"
    MOVE = "move"
    UNASSIGN = "unassign"
    PIN = "pin"
    UNPIN = "unpin"


class EditRefused(Exception):
    """The edit breaks a hard rule, or names what the day does not have; nothing changed.

    ``violations`` are the checker's (or, for an order the schedule cannot time, a
    ``schedule`` violation with the schedule's reason), each with a ``cause`` for
    programs and a ``message`` for the dispatcher.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(v.message for v in self.violations))


def _refused(
    cause: str, message: str, *, technician: str | None = None, job: str | None = None
) -> EditRefused:
    return EditRefused([Violation(cause, technician, job, message)])


@dataclass(frozen=True, slots=True)
class EditResult:
    """The published plan the edit made (``plan.version`` is the day's new version), and
    the soft rules it bends: one ``late`` warning per job it makes finish later past its
    SLA due time."""

    plan: Plan
    warnings: tuple[Violation, ...]


def assign(
    session: Session,
    day: date,
    job: str,
    technician: str,
    position: int | None = None,
    *,
    expected_version: int,
    user_id: int | None,
) -> EditResult:
    """Put an unassigned job in a technician's route.

    ``position`` counts the technician's jobs before it (at least their jobs under way);
    without one the job goes where it adds least to the plan's score, or at the end of
    the route when it fits nowhere (and the refusal then says why).

    Raises
    ------
    EditRefused
        A hard rule broken, an unknown job or technician, the job in a route already.
    StalePlan
        The day's published version is not ``expected_version`` (checked first, and
        again when the new version is published).
    PlanningError, TransitionRefused
        The day cannot be planned as stored (``build_problem``); a job cannot take its
        place in the lifecycle (``publish``).
    """
    return _edit(
        session, day, EditAction.ASSIGN, job, technician, position, expected_version, user_id
    )


def move(
    session: Session,
    day: date,
    job: str,
    technician: str,
    position: int | None = None,
    *,
    expected_version: int,
    user_id: int | None,
) -> EditResult:
    """Move a routed job to another technician, or to another place in the same route.

    As ``assign``, for a job that is in a route.
    """
    return _edit(
        session, day, EditAction.MOVE, job, technician, position, expected_version, user_id
    )


def unassign(
    session: Session, day: date, job: str, *, expected_version: int, user_id: int | None
) -> EditResult:
    """Take a job out of its route; it is listed as unassigned by a dispatcher."""
    return _edit(session, day, EditAction.UNASSIGN, job, None, None, expected_version, user_id)


def pin(
    session: Session,
    day: date,
    job: str,
    technician: str | None = None,
    position: int | None = None,
    *,
    expected_version: int,
    user_id: int | None,
) -> EditResult:
    """Pin a job to a technician (by default the one whose route has it) and put it there.

    Every later plan keeps the job with them or leaves it out, never gives it to
    someone else.
    """
    return _edit(
        session, day, EditAction.PIN, job, technician, position, expected_version, user_id
    )


def unpin(
    session: Session, day: date, job: str, *, expected_version: int, user_id: int | None
) -> EditResult:
    """Lift a job's pin; its place in the plan stays as it is."""
    return _edit(session, day, EditAction.UNPIN, job, None, None, expected_version, user_id)


def _edit(
    session: Session,
    day: date,
    action: EditAction,
    job_id: str,
    technician_id: str | None,
    position: int | None,
    expected_version: int,
    user_id: int | None,
) -> EditResult:
    current = published(session, day)
    version = current[0] if current is not None else 0
    if version != expected_version:
        raise StalePlan(day, expected_version, version)
    problem = build_problem(session, day)
    if job_id not in {j.id for j in problem.jobs}:
        raise _refused(
            "unknown_job", f"Job {job_id} is not one of {day.isoformat()}'s open jobs.", job=job_id
        )
    if technician_id is not None and technician_id not in {t.id for t in problem.technicians}:
        raise _refused(
            "unknown_technician",
            f"Technician {technician_id} does not work on {day.isoformat()}.",
            technician=technician_id,
        )
    before = current_solution(problem, current[1].document if current is not None else None)
    holder = _holder(before, job_id)
    if action == EditAction.PIN:
        technician_id = technician_id or holder
        if technician_id is None:
            raise _refused(
                "technician", f"Job {job_id} is in no route: name whom to pin it to.", job=job_id
            )
        problem = _pinned(problem, job_id, technician_id)
    elif action == EditAction.UNPIN:
        problem = _pinned(problem, job_id, None)
    after = _changed(problem, before, action, job_id, holder, technician_id, position)
    report = check(problem, after)
    if not report.feasible:
        raise EditRefused(report.violations)
    plan = new_plan(
        session,
        day,
        problem,
        after,
        reason=_describe(action, job_id, technician_id, position),
        created_by=user_id,
    )
    publish(session, plan.id, user_id=user_id, expected_version=expected_version)
    if action in (EditAction.PIN, EditAction.UNPIN):
        _store_pin(session, job_id, technician_id if action == EditAction.PIN else None)
    return EditResult(plan, _lateness_added(problem, before, after))


def _changed(
    problem: Problem,
    before: Solution,
    action: EditAction,
    job_id: str,
    holder: str | None,
    technician_id: str | None,
    position: int | None,
) -> Solution:
    """``before`` with the edit made: the job's routes changed and re-timed."""
    under_way = next((t.id for t in problem.technicians if job_id in t.fixed_jobs), None)
    if under_way is not None and not (
        action == EditAction.UNPIN
        or (action == EditAction.PIN and technician_id == under_way and position is None)
    ):
        raise _refused(
            "fixed_jobs",
            f"Job {job_id} is under way with {under_way}: work that has started stays where it is.",
            technician=under_way,
            job=job_id,
        )
    if action == EditAction.ASSIGN and holder is not None:
        raise _refused(
            "assigned",
            f"Job {job_id} is in {holder}'s route already: move it instead.",
            technician=holder,
            job=job_id,
        )
    if action == EditAction.MOVE and holder is None:
        raise _refused(
            "unassigned", f"Job {job_id} is in no route: assign it instead.", job=job_id
        )
    if action == EditAction.UNPIN or (
        action == EditAction.PIN and holder == technician_id and position is None
    ):
        return before
    without = _taken_off(problem, before, job_id)
    if action == EditAction.UNASSIGN:
        left_out = Unassigned(job_id, Reason.NOT_ENOUGH_TIME, "taken off the plan by a dispatcher")
        return Solution(without.routes, (*without.unassigned, left_out))
    assert technician_id is not None  # assign and move name one; pin found the holder
    _check_may_take(problem, job_id, technician_id)
    return _put(problem, without, job_id, technician_id, position)


def _check_may_take(problem: Problem, job_id: str, technician_id: str) -> None:
    """Skills and pin first: no timing of the route can make up for either."""
    job = problem.job(job_id)
    missing = job.skills - problem.technician(technician_id).skills
    if missing:
        raise _refused(
            "skills",
            f"Job {job_id} needs {', '.join(sorted(missing))}, which {technician_id} lacks.",
            technician=technician_id,
            job=job_id,
        )
    if job.pinned_to is not None and job.pinned_to != technician_id:
        raise _refused(
            "pinned",
            f"Job {job_id} is pinned to {job.pinned_to}: unpin it before giving it to "
            f"{technician_id}.",
            technician=technician_id,
            job=job_id,
        )


def _taken_off(problem: Problem, solution: Solution, job_id: str) -> Solution:
    """The plan without the job: out of its route (re-timed) and out of the unassigned."""
    unassigned = tuple(u for u in solution.unassigned if u.job != job_id)
    holder = _holder(solution, job_id)
    if holder is None:
        return Solution(solution.routes, unassigned)
    route = solution.route_of(holder)
    assert route is not None
    stops = [s for s in route.stops if not (s.kind == StopKind.JOB and s.id == job_id)]
    return _with_route(problem, Solution(solution.routes, unassigned), holder, stops)


def _put(
    problem: Problem, solution: Solution, job_id: str, technician_id: str, position: int | None
) -> Solution:
    """The plan with the job in the technician's route, before their ``position``-th job.

    Without a position: the engine's best place for it in that route (emergency
    insertion), else the end of the route, where the schedule or the checker names
    what stands in the way.
    """
    route = solution.route_of(technician_id)
    stops = [] if route is None else [s for s in route.stops if s.kind != StopKind.BREAK]
    job_stops = [i for i, s in enumerate(stops) if s.kind == StopKind.JOB]
    if position is None:
        candidate = next(
            (
                c
                for c in insertion_candidates(problem, solution, job_id, limit=None)
                if c.technician == technician_id
            ),
            None,
        )
        if candidate is not None:
            return apply_candidate(solution, candidate)
        position = len(job_stops)
    first = len(problem.technician(technician_id).fixed_jobs)
    if not first <= position <= len(job_stops):
        raise _refused(
            "position",
            f"Position {position} is not in {technician_id}'s route: it takes {first} to "
            f"{len(job_stops)} (jobs before it; jobs under way come first).",
            technician=technician_id,
            job=job_id,
        )
    at = job_stops[position] if position < len(job_stops) else len(stops)
    new = Stop(StopKind.JOB, job_id, 0, 0, 0)
    unassigned = tuple(u for u in solution.unassigned if u.job != job_id)
    return _with_route(
        problem,
        Solution(solution.routes, unassigned),
        technician_id,
        [*stops[:at], new, *stops[at:]],
    )


def _with_route(
    problem: Problem, solution: Solution, technician_id: str, stops: Sequence[Stop]
) -> Solution:
    """The plan with the technician's route re-timed for ``stops`` (dropped when it has no job)."""
    try:
        route = retime_route(problem, solution, Route(technician_id, 0, 0, tuple(stops)))
    except ValueError as exc:
        raise _refused("schedule", str(exc), technician=technician_id) from None
    others = [r for r in solution.routes if r.technician != technician_id]
    if route.job_ids:
        others.append(route)
    by_technician = {t.id: i for i, t in enumerate(problem.technicians)}
    return Solution(
        tuple(sorted(others, key=lambda r: by_technician[r.technician])), solution.unassigned
    )


def current_solution(problem: Problem, document: Mapping[str, Any] | None) -> Solution:
    """The published plan as the day stands now; an empty plan before the first publish.

    Routes keep their published times unless the day changed under them: a route that
    lost a job (finished, cancelled, moved to another day) or whose jobs under way are
    not at its head is re-timed. Jobs of the day the plan does not route are unassigned,
    with the plan's reason when it gives one.
    """
    if document is None:
        return Solution(
            (),
            tuple(
                Unassigned(
                    j.id,
                    Reason.NOT_ENOUGH_TIME,
                    "not planned yet: nothing is published for this day",
                )
                for j in problem.jobs
            ),
        )
    reader = PlanReader(problem)
    stored = reader.solution(document)
    if stored is None:
        raise EditRefused(
            [
                Violation("format", None, None, f"The published plan cannot be read: {p}")
                for p in reader.problems
            ]
        )
    jobs = {j.id for j in problem.jobs}
    warehouses = {w.id for w in problem.warehouses}
    fixed = {job: t.id for t in problem.technicians for job in t.fixed_jobs}
    solution = Solution(
        tuple(r for r in stored.routes if r.technician in {t.id for t in problem.technicians}),
        (),
    )
    for technician in problem.technicians:
        route = solution.route_of(technician.id)
        published_stops = (
            [] if route is None else [s for s in route.stops if s.kind != StopKind.BREAK]
        )
        # Warehouse calls before the work under way are behind the technician already.
        passed = max(
            (i for i, s in enumerate(published_stops) if s.id in technician.fixed_jobs),
            default=-1,
        )
        kept = [
            s
            for i, s in enumerate(published_stops)
            if (s.kind == StopKind.JOB and s.id in jobs and s.id not in fixed)
            or (s.kind == StopKind.WAREHOUSE and s.id in warehouses and i > passed)
        ]
        head = [Stop(StopKind.JOB, job, 0, 0, 0) for job in technician.fixed_jobs]
        stops = [*head, *kept]
        if [(s.kind, s.id) for s in stops] != [(s.kind, s.id) for s in published_stops]:
            solution = _with_route(problem, solution, technician.id, stops)
    routed = {job for route in solution.routes for job in route.job_ids}
    reasons = {u.job: u for u in stored.unassigned}
    unassigned = tuple(
        reasons.get(j.id)
        or Unassigned(j.id, Reason.NOT_ENOUGH_TIME, "not in the published plan's routes")
        for j in problem.jobs
        if j.id not in routed
    )
    return Solution(solution.routes, unassigned)


def _holder(solution: Solution, job_id: str) -> str | None:
    return next((r.technician for r in solution.routes if job_id in r.job_ids), None)


def _pinned(problem: Problem, job_id: str, technician_id: str | None) -> Problem:
    jobs = tuple(
        replace(j, pinned_to=technician_id) if j.id == job_id else j for j in problem.jobs
    )
    return replace(problem, jobs=jobs)


def _store_pin(session: Session, job_id: str, technician_id: str | None) -> None:
    job = session.scalar(select(Job).where(Job.reference == job_id))
    assert job is not None  # it is one of the day's jobs
    job.pinned_technician_id = (
        None
        if technician_id is None
        else session.scalar(select(Technician.id).where(Technician.code == technician_id))
    )
    session.flush()


def _lateness_added(problem: Problem, before: Solution, after: Solution) -> tuple[Violation, ...]:
    """One warning per job the edit makes finish later past its SLA due time."""
    was = {job: late for job, (_, _, late) in _late_jobs(problem, before).items()}
    return tuple(
        Violation(
            "late",
            technician,
            job,
            f"Job {job} ends at {_clock(end)}, {late // 60} min after its SLA due time "
            f"{_clock(end - late)}.",
        )
        for job, (technician, end, late) in sorted(_late_jobs(problem, after).items())
        if late > was.get(job, 0)
    )


def _late_jobs(problem: Problem, solution: Solution) -> dict[str, tuple[str, int, int]]:
    """Job -> (technician, end, ticks past its SLA due time), for the late jobs."""
    due = {j.id: j.sla_due for j in problem.jobs if j.sla_due is not None}
    return {
        stop.id: (route.technician, stop.end, stop.end - due[stop.id])
        for route in solution.routes
        for stop in route.stops
        if stop.kind == StopKind.JOB and stop.id in due and stop.end > due[stop.id]
    }


def _clock(ticks: int) -> str:
    """Ticks of a service day (seconds since local midnight) as HH:MM."""
    return f"{ticks // 3600:02d}:{ticks % 3600 // 60:02d}"


def _describe(
    action: EditAction, job_id: str, technician_id: str | None, position: int | None
) -> str:
    """The plan's reason, which the technicians' route events repeat."""
    words = f"manual edit: {action.value} {job_id}"
    if technician_id is not None and action != EditAction.UNPIN:
        words += f" to {technician_id}"
    if position is not None:
        words += f" at position {position}"
    return words

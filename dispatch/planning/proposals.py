"""Proposals: a finished run's plan, its figures and how it differs from the published plan.

A plan is kept as its ``fieldops-plan/1`` document (what ``fieldops export-plan`` writes and
the checker reads), with a summary of its figures and a diff against the published plan
it was built on. Re-plans start from the published plan's routes and keep each job with
its technician where they can (``replan_start``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.db import utcnow
from dispatch.enums import PlanStatus
from dispatch.models import DayPlan, Plan, PlanRun
from optimizer import (
    Priority,
    Problem,
    Route,
    Solution,
    Stop,
    StopKind,
    check,
    plan_document,
)


class PlanNotFound(LookupError):
    def __init__(self, plan_id: int) -> None:
        self.plan_id = plan_id
        super().__init__(f"no plan with id {plan_id}")


class ProposalClosed(Exception):
    """The plan is no longer a proposal (published, superseded or discarded)."""

    def __init__(self, plan: Plan) -> None:
        self.plan_id = plan.id
        self.status = plan.status
        super().__init__(f"plan {plan.id} is {plan.status}, not a proposal")


class InfeasiblePlan(Exception):
    """The checker found a hard rule broken: such a plan is never stored (an engine bug)."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("the plan breaks a hard rule: " + "; ".join(messages[:5]))


@dataclass(frozen=True, slots=True)
class SolveStart:
    """Where a run's search starts: the published routes and whom each job is with."""

    initial: Solution | None = None
    incumbent: Mapping[str, str] = field(default_factory=dict)


def published(session: Session, day: date) -> tuple[int, Plan] | None:
    """The day's published version and plan, or None before the first publish."""
    row = session.execute(
        select(DayPlan.version, Plan)
        .join(Plan, Plan.id == DayPlan.plan_id)
        .where(DayPlan.service_date == day)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def published_version(session: Session, day: date) -> int:
    """The day's published version; 0 before the first publish (what a plan's base says)."""
    return session.scalar(select(DayPlan.version).where(DayPlan.service_date == day)) or 0


def replan_start(session: Session, run: PlanRun, problem: Problem) -> SolveStart:
    """The published plan's routes and assignments, for a re-plan; nothing for a fresh plan."""
    current = published(session, run.service_date) if run.replan else None
    if current is None:
        return SolveStart()
    initial = routes_of(current[1].document, problem)
    incumbent = {job: route.technician for route in initial.routes for job in route.job_ids}
    return SolveStart(initial, incumbent)


def routes_of(document: Mapping[str, Any], problem: Problem) -> Solution:
    """The order of a stored plan's stops, kept where the day still has them.

    A start for the search, not a timed plan: jobs since completed or cancelled and
    technicians no longer working drop out, and times are left at zero (the search
    re-times every route it keeps).
    """
    jobs = {job.id for job in problem.jobs}
    warehouses = {warehouse.id for warehouse in problem.warehouses}
    technicians = {technician.id for technician in problem.technicians}
    routes = []
    for route in document["routes"]:
        if route["technician"] not in technicians:
            continue
        stops = tuple(
            Stop(StopKind(stop["type"]), stop["id"], 0, 0, 0)
            for stop in route["stops"]
            if (stop["type"] == StopKind.JOB and stop["id"] in jobs)
            or (stop["type"] == StopKind.WAREHOUSE and stop["id"] in warehouses)
        )
        routes.append(Route(route["technician"], 0, 0, stops))
    return Solution(routes=tuple(routes), unassigned=())


def save_proposal(session: Session, run: PlanRun, problem: Problem, solution: Solution) -> Plan:
    """Keep a finished run's plan as a proposal, with its figures and its diff.

    The caller finishes the run in the same transaction, so a run either succeeds with
    its proposal or leaves none. A run asked to publish itself is published at once when
    the published plan has not changed since the run read it; otherwise its proposal
    waits for a dispatcher (``dispatch.planning.publish``).

    Raises
    ------
    InfeasiblePlan
        The checker found a hard rule broken.
    """
    plan = new_plan(
        session,
        run.service_date,
        problem,
        solution,
        reason=run.reason,
        created_by=run.requested_by_id,
    )
    plan.run_id = run.id
    session.flush()
    if run.auto_publish:
        from dispatch.planning.publish import StalePlan, publish

        try:
            publish(session, plan.id, user_id=None)
        except StalePlan:
            pass  # the dispatcher decides: the proposal shows it was built on an older plan
    return plan


def new_plan(
    session: Session,
    day: date,
    problem: Problem,
    solution: Solution,
    *,
    reason: str,
    created_by: int | None,
) -> Plan:
    """A proposal of ``solution`` built on the day's current published plan (flushed)."""
    report = check(problem, solution)
    if not report.feasible:
        raise InfeasiblePlan([violation.message for violation in report.violations])
    document = plan_document(problem, solution)
    figures = {
        "score": report.score,
        "travel_minutes": round(report.travel_minutes, 1),
        "late_minutes": round(report.late_minutes, 1),
        "served": {p.value: report.served[p] for p in Priority},
        "unserved": {p.value: report.unserved[p] for p in Priority},
    }
    current = published(session, day)
    plan = Plan(
        service_date=day,
        status=PlanStatus.PROPOSED,
        base_version=current[0] if current else 0,
        reason=reason[:200],
        document=document,
        summary=figures,
        diff=plan_diff(current[1] if current else None, document, figures),
        created_by_id=created_by,
    )
    session.add(plan)
    session.flush()
    return plan


def discard(session: Session, plan_id: int, *, user_id: int | None) -> Plan:
    """A dispatcher turns a proposal down; it stays on record as discarded."""
    plan = get_plan(session, plan_id, lock=True)
    if plan.status != PlanStatus.PROPOSED:
        raise ProposalClosed(plan)
    plan.status = PlanStatus.DISCARDED
    plan.decided_at = utcnow()
    plan.decided_by_id = user_id
    session.flush()
    return plan


def get_plan(session: Session, plan_id: int, *, lock: bool = False) -> Plan:
    plan = session.get(Plan, plan_id, with_for_update=lock, populate_existing=lock)
    if plan is None:
        raise PlanNotFound(plan_id)
    return plan


def assignments(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each technician's jobs in route order."""
    return {
        route["technician"]: [s["id"] for s in route["stops"] if s["type"] == StopKind.JOB]
        for route in document["routes"]
    }


def plan_diff(
    base: Plan | None, document: Mapping[str, Any], figures: Mapping[str, Any]
) -> dict[str, Any]:
    """What changes if ``document`` replaces the published plan ``base``.

    Jobs added (routed now, not before), removed (routed before, not now), moved to
    another technician, technicians whose common jobs come in another order, and the
    change of each figure (new minus published).
    """
    before = assignments(base.document) if base is not None else {}
    after = assignments(document)
    owner_before = {job: tech for tech, jobs in before.items() for job in jobs}
    owner_after = {job: tech for tech, jobs in after.items() for job in jobs}
    moved = [
        {"job": job, "from": owner_before[job], "to": tech}
        for job, tech in owner_after.items()
        if job in owner_before and owner_before[job] != tech
    ]
    return {
        "added": sorted(set(owner_after) - set(owner_before)),
        "removed": sorted(set(owner_before) - set(owner_after)),
        "moved": sorted(moved, key=lambda m: m["job"]),
        "resequenced": sorted(
            tech for tech, jobs in after.items() if resequenced(before.get(tech, []), jobs)
        ),
        "deltas": _deltas(base.summary if base is not None else None, figures),
    }


def resequenced(before: list[str], after: list[str]) -> bool:
    """Whether the jobs a route keeps come in another order."""
    kept = set(before) & set(after)
    return [j for j in before if j in kept] != [j for j in after if j in kept]


def _deltas(base: Mapping[str, Any] | None, figures: Mapping[str, Any]) -> dict[str, Any]:
    if base is None:
        return {}
    return {
        "score": round(figures["score"] - base["score"], 1),
        "travel_minutes": round(figures["travel_minutes"] - base["travel_minutes"], 1),
        "late_minutes": round(figures["late_minutes"] - base["late_minutes"], 1),
        "served": {p: figures["served"][p] - base["served"][p] for p in figures["served"]},
    }

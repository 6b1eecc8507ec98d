"""The dispatchers' JSON API for a day's plan: runs, the published plan, proposals, edits.

The published plan's version is its ``ETag``. Edits must send it back as ``If-Match``
(428 without one), so that of two dispatchers editing the same version one wins and the
other gets 409 naming the current version, instead of overwriting a change unseen;
publishing a proposal built on an older version is refused the same way. Writes follow
the app's rules for the JSON API (JSON bodies only, never from another site: see
``web.app``), so the session cookie cannot be used by a cross-site form.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, abort, current_app, g, request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from dispatch.enums import PlanStatus, Role
from dispatch.lifecycle import TransitionRefused
from dispatch.models import Plan, PlanRun
from dispatch.planning.board import day_board, day_map
from dispatch.planning.candidates import NotACandidateJob, emergency_candidates
from dispatch.planning.edits import (
    EditAction,
    EditRefused,
    EditResult,
    assign,
    move,
    pin,
    unassign,
    unpin,
)
from dispatch.planning.jobqueue import enqueue
from dispatch.planning.problem import PlanningError
from dispatch.planning.proposals import (
    PlanNotFound,
    ProposalClosed,
    discard,
    get_plan,
    published,
    published_version,
)
from dispatch.planning.publish import StalePlan, publish
from dispatch.planning.runs import RunInProgress, RunNotFound, RunTransitionRefused, cancel_run
from dispatch.stock import waiting_for_stock
from mobile_api.http import field_errors, login_required, problem_response
from optimizer import Violation

bp = Blueprint("plans_api", __name__, url_prefix="/api/v1/plans")

#: A date in the path: YYYY-MM-DD only (``date.fromisoformat`` also reads week dates).
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
#: An ``If-Match`` the API understands: one strong ETag as it hands them out.
IF_MATCH_PATTERN = re.compile(r'\s*"(\d{1,9})"\s*')
#: A plan id in ``?plan=``: ASCII digits only (``str.isdigit`` also takes "²").
PLAN_ID_PATTERN = re.compile(r"[0-9]{1,9}")

Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class EditRequest(BaseModel):
    """The body of ``POST /api/v1/plans/<date>/edits``."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["assign", "move", "unassign", "pin", "unpin"]
    job: Reference
    technician: Reference | None = None
    position: Annotated[StrictInt, Field(ge=0, le=10_000)] | None = None


#: Longest search a dispatcher may ask for, in seconds.
LONGEST_RUN_S = 3600


class RunRequest(BaseModel):
    """The body of ``POST /api/v1/plans/<date>/runs``."""

    model_config = ConfigDict(extra="forbid")

    time_limit_s: Annotated[StrictInt, Field(ge=1, le=LONGEST_RUN_S)] = 30
    replan: bool = False


@bp.post("/<day>/runs")
@login_required(Role.DISPATCHER)
def request_plan_run(day: str) -> Any:
    """Queue an optimization of the day (202); 409 naming the day's active run if it has one."""
    when = day_in_path(day)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem_response(400, "Bad Request", "send a JSON object ({} for the defaults)")
    try:
        asked = RunRequest.model_validate(body)
    except ValidationError as exc:
        return _invalid("Invalid run request", exc)
    try:
        run = enqueue(
            g.db,
            when,
            time_limit_s=asked.time_limit_s,
            requested_by=g.user.id,
            reason="re-plan asked by a dispatcher" if asked.replan else "asked by a dispatcher",
            replan=asked.replan,
        )
    except RunInProgress as exc:
        return problem_response(
            409, "Run in progress", str(exc), run_id=exc.run_id, state=exc.state.value
        )
    g.db.commit()
    location = f"{bp.url_prefix}/{when.isoformat()}/runs/{run.id}"
    return _run(run), 202, {"Location": location}


@bp.get("/<day>/runs/<int:run_id>")
@login_required(Role.DISPATCHER)
def plan_run(day: str, run_id: int) -> Any:
    """A run's state and best figures so far; its proposal's id once it succeeded."""
    return _run(_run_of(day_in_path(day), run_id))


@bp.post("/<day>/runs/<int:run_id>/cancel")
@login_required(Role.DISPATCHER)
def cancel_plan_run(day: str, run_id: int) -> Any:
    """Stop a queued or running run; 409 when it has ended already."""
    run = _run_of(day_in_path(day), run_id)
    try:
        cancel_run(g.db, run.id)
    except RunTransitionRefused as exc:
        return problem_response(409, "Run ended", str(exc), state=exc.current.value)
    g.db.commit()
    return _run(run)


@bp.get("/<day>/candidates/<job>")
@login_required(Role.DISPATCHER)
def candidates(day: str, job: str) -> Any:
    """Who could take one open, unplanned job without re-planning anyone, best first."""
    when = day_in_path(day)
    try:
        found = emergency_candidates(g.db, when, job[:64])
    except NotACandidateJob as exc:
        raise NotFound(str(exc)) from None
    except EditRefused as exc:
        return problem_response(
            422,
            "Published plan out of step",
            "the published plan no longer fits the day as it stands; re-plan or edit first",
            errors=[_violation(v) for v in exc.violations],
        )
    except PlanningError as exc:
        return _unplannable(when, exc)
    return {
        "job": found.job,
        "reason": found.reason,
        "candidates": [
            {
                "technician": o.technician,
                "position": o.position,
                "arrival": o.arrival.isoformat(),
                "start": o.start.isoformat(),
                "end": o.end.isoformat(),
                "added_travel_min": o.added_travel_min,
                "delay_min": o.delay_min,
                "added_lateness_min": o.added_lateness_min,
                "lateness_min": o.lateness_min,
                "score_change": o.score_change,
                "warehouse_call": o.warehouse_call,
            }
            for o in found.offers
        ],
    }


@bp.get("/<day>")
@login_required(Role.DISPATCHER)
def published_plan(day: str) -> Any:
    """The day's published plan, its figures, jobs left out and jobs waiting for stock
    (routed, but some part could not be reserved); its version as the ETag."""
    when = day_in_path(day)
    version, plan = _published_or_404(when)
    body = {
        "service_date": when.isoformat(),
        "version": version,
        "plan_id": plan.id,
        "reason": plan.reason,
        "published_at": _iso(plan.decided_at),
        "summary": plan.summary,
        "unassigned": plan.document["unassigned"],
        "waiting_for_stock": [
            {"job": reference, "parts": parts}
            for reference, parts in waiting_for_stock(g.db, when).items()
        ],
        "document": plan.document,
    }
    return _tagged(body, version)


@bp.get("/<day>/board")
@login_required(Role.DISPATCHER)
def board(day: str) -> Any:
    """The published plan as timelines: each technician's shift, jobs, drives, breaks and
    warehouse calls, and the jobs left out with why; its version as the ETag."""
    when = day_in_path(day)
    version, plan = _published_or_404(when)
    body = {
        "service_date": when.isoformat(),
        "version": version,
        "plan_id": plan.id,
        **day_board(g.db, when, plan.document),
    }
    return _tagged(body, version)


@bp.get("/<day>/map")
@login_required(Role.DISPATCHER)
def plan_map(day: str) -> Any:
    """The published plan (or, with ``?plan=<id>``, one of the day's plans) as GeoJSON:
    routes in their technician's colour, jobs, warehouses. A published plan's version
    is its ETag."""
    when = day_in_path(day)
    asked = request.args.get("plan")
    version: int | None
    if asked is None:
        version, plan = _published_or_404(when)
    elif PLAN_ID_PATTERN.fullmatch(asked):
        version, plan = None, _plan_of(when, int(asked))
    else:
        return problem_response(
            422,
            "Invalid plan",
            "plan must be a plan's id as GET /api/v1/plans/<date>/proposals lists them",
            errors=[{"field": "plan", "message": "not a plan id"}],
        )
    response = current_app.json.response(day_map(g.db, when, plan.document))
    response.mimetype = "application/geo+json"
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    return response


@bp.get("/<day>/proposals")
@login_required(Role.DISPATCHER)
def proposals(day: str) -> Any:
    """The day's open proposals, newest first, without their documents."""
    when = day_in_path(day)
    version = published_version(g.db, when)
    found = g.db.scalars(
        select(Plan)
        .where(Plan.service_date == when, Plan.status == PlanStatus.PROPOSED)
        .order_by(Plan.id.desc())
    )
    return {
        "service_date": when.isoformat(),
        "published_version": version,
        "proposals": [_proposal(plan, version) for plan in found],
    }


@bp.get("/<day>/proposals/<int:plan_id>")
@login_required(Role.DISPATCHER)
def proposal(day: str, plan_id: int) -> Any:
    """One plan of the day, with its document."""
    plan = _plan_of(day_in_path(day), plan_id)
    body = _proposal(plan, published_version(g.db, plan.service_date))
    return {**body, "document": plan.document}


@bp.post("/<day>/proposals/<int:plan_id>/publish")
@login_required(Role.DISPATCHER)
def publish_proposal(day: str, plan_id: int) -> Any:
    """Make a proposal the day's plan; 409 when the plan changed since it was built, or it
    is closed."""
    plan = _plan_of(day_in_path(day), plan_id)
    try:
        publish(g.db, plan.id, user_id=g.user.id)
    except (StalePlan, ProposalClosed, TransitionRefused) as exc:
        return _conflict(exc)
    g.db.commit()
    assert plan.version is not None  # published
    return _tagged({"plan_id": plan.id, "version": plan.version}, plan.version)


@bp.post("/<day>/proposals/<int:plan_id>/discard")
@login_required(Role.DISPATCHER)
def discard_proposal(day: str, plan_id: int) -> Any:
    """Turn a proposal down; 409 when it is not a proposal any more."""
    plan = _plan_of(day_in_path(day), plan_id)
    try:
        discard(g.db, plan.id, user_id=g.user.id)
    except ProposalClosed as exc:
        return _conflict(exc)
    g.db.commit()
    return {"plan_id": plan.id, "status": plan.status.value}


@bp.post("/<day>/edits")
@login_required(Role.DISPATCHER)
def edit_plan(day: str) -> Any:
    """Assign, move, unassign, pin or unpin one job; the answer is the new version and the
    checker's warnings, or 422 with the hard rules the edit would break."""
    when = day_in_path(day)
    expected = _if_match()
    if isinstance(expected, Response):
        return expected
    edit = _edit_request()
    if isinstance(edit, Response):
        return edit
    try:
        result = _apply(edit, when, expected)
    except (StalePlan, TransitionRefused) as exc:
        return _conflict(exc)
    except EditRefused as exc:
        return problem_response(
            422,
            "Edit refused",
            "the edit would break the plan's hard rules; nothing was changed",
            errors=[_violation(v) for v in exc.violations],
        )
    except PlanningError as exc:
        return _unplannable(when, exc)
    g.db.commit()
    plan = result.plan
    assert plan.version is not None  # edits publish
    body = {
        "plan_id": plan.id,
        "version": plan.version,
        "warnings": [_violation(v) for v in result.warnings],
        "summary": plan.summary,
        "diff": plan.diff,
    }
    return _tagged(body, plan.version)


def _apply(edit: EditRequest, day: date, expected: int) -> EditResult:
    versioned = {"expected_version": expected, "user_id": g.user.id}
    action = EditAction(edit.action)
    if action in (EditAction.UNASSIGN, EditAction.UNPIN):
        take = unassign if action == EditAction.UNASSIGN else unpin
        return take(g.db, day, edit.job, **versioned)
    if action == EditAction.PIN:
        return pin(g.db, day, edit.job, edit.technician, edit.position, **versioned)
    assert edit.technician is not None  # _edit_request requires it
    place = assign if action == EditAction.ASSIGN else move
    return place(g.db, day, edit.job, edit.technician, edit.position, **versioned)


def _edit_request() -> EditRequest | Response:
    """The body as an ``EditRequest``, or a 400/422 problem naming what is wrong."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem_response(400, "Bad Request", "send a JSON object")
    try:
        edit = EditRequest.model_validate(body)
    except ValidationError as exc:
        return _invalid("Invalid edit", exc)
    errors = []
    if edit.action in ("assign", "move") and edit.technician is None:
        errors.append({"field": "technician", "message": f"{edit.action} needs a technician"})
    if edit.action in ("unassign", "unpin"):
        errors += [
            {"field": name, "message": f"{edit.action} takes only the job"}
            for name in ("technician", "position")
            if getattr(edit, name) is not None
        ]
    if errors:
        return problem_response(
            422, "Invalid edit", f"{len(errors)} field(s) need attention", errors=errors
        )
    return edit


def _published_or_404(day: date) -> tuple[int, Plan]:
    """The day's published plan and its version; a 404 problem when there is none."""
    current = published(g.db, day)
    if current is None:
        abort(
            problem_response(
                404,
                "Not Found",
                f'nothing is published for {day.isoformat()}; an edit with If-Match: "0" '
                "starts from an empty plan",
                version=0,
            )
        )
    return current


def _unplannable(day: date, exc: PlanningError) -> Response:
    return problem_response(
        422,
        "Day cannot be planned",
        f"{day.isoformat()} cannot be planned as stored",
        errors=[{"message": problem} for problem in exc.problems],
    )


def _invalid(title: str, exc: ValidationError) -> Response:
    errors = field_errors(exc)
    return problem_response(422, title, f"{len(errors)} field(s) need attention", errors=errors)


def _if_match() -> int | Response:
    """The version ``If-Match`` names, or the 428/400 problem for a missing or odd one."""
    header = request.headers.get("If-Match")
    if header is None:
        return problem_response(
            428,
            "Precondition Required",
            "send If-Match with the ETag of GET /api/v1/plans/<date> "
            '("0" before the first publish), so an edit never overwrites one made meanwhile',
        )
    found = IF_MATCH_PATTERN.fullmatch(header)
    if found is None:
        return problem_response(
            400,
            "Bad Request",
            'If-Match must be one ETag as GET /api/v1/plans/<date> gives it, like "3"',
        )
    return int(found.group(1))


def _conflict(exc: StalePlan | ProposalClosed | TransitionRefused) -> Response:
    if isinstance(exc, StalePlan):
        return problem_response(
            409, "Plan changed", str(exc), current_version=exc.current, expected=exc.expected
        )
    if isinstance(exc, ProposalClosed):
        return problem_response(409, "Proposal closed", str(exc), plan_status=exc.status.value)
    return problem_response(409, "Job cannot take the plan", str(exc), job=exc.job_reference)


def day_in_path(text: str) -> date:
    """The date in the path; 404 for anything but YYYY-MM-DD naming a real day."""
    if DATE_PATTERN.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # 2026-02-30: the shape of a date, but no day
    raise NotFound(f"{text!r} is not a date: use YYYY-MM-DD, like 2026-11-24")


def _plan_of(day: date, plan_id: int) -> Plan:
    """The plan with this id, if it is one of the day's; 404 otherwise."""
    try:
        plan = get_plan(g.db, plan_id)
    except PlanNotFound:
        raise NotFound(f"{day.isoformat()} has no plan {plan_id}") from None
    if plan.service_date != day:
        raise NotFound(f"{day.isoformat()} has no plan {plan_id}")
    return plan


def _run_of(day: date, run_id: int) -> PlanRun:
    """The run with this id, if it is one of the day's; 404 otherwise."""
    run = g.db.get(PlanRun, run_id)
    if run is None or run.service_date != day:
        raise NotFound(str(RunNotFound(run_id)) + f" for {day.isoformat()}")
    return run


def _run(run: PlanRun) -> dict[str, Any]:
    plan_id = g.db.scalar(select(Plan.id).where(Plan.run_id == run.id))
    return {
        "id": run.id,
        "service_date": run.service_date.isoformat(),
        "state": run.state.value,
        "reason": run.reason,
        "replan": run.replan,
        "time_limit_s": run.time_limit_s,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "best_score": run.best_score,
        "served": run.served,
        "elapsed_s": run.elapsed_s,
        "error": run.error,
        "proposal_id": plan_id,
    }


def _proposal(plan: Plan, published_version: int) -> dict[str, Any]:
    """A plan's record; ``stale`` when it is a proposal built on an older published plan."""
    return {
        "id": plan.id,
        "status": plan.status.value,
        "reason": plan.reason,
        "run_id": plan.run_id,
        "created_at": _iso(plan.created_at),
        "base_version": plan.base_version,
        "version": plan.version,
        "stale": plan.status == PlanStatus.PROPOSED and plan.base_version != published_version,
        "summary": plan.summary,
        "diff": plan.diff,
    }


def _violation(violation: Violation) -> dict[str, Any]:
    return {
        "cause": violation.cause,
        "technician": violation.technician,
        "stop": violation.stop,
        "message": violation.message,
    }


def _tagged(body: dict[str, Any], version: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    return body, 200, {"ETag": f'"{version}"'}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None

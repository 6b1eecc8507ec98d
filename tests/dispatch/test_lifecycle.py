"""The job lifecycle: every allowed move works, every other one is refused."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import product
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import set_actor
from dispatch.enums import HoldReason, JobStatus
from dispatch.lifecycle import TERMINAL, TRANSITIONS, TransitionRefused, transition
from dispatch.models import Event, Job, Technician
from tests.helpers import T0, make_job, make_technician

S = JobStatus
ALL_MOVES = list(product(JobStatus, JobStatus))
ALLOWED = [(a, b) for a, b in ALL_MOVES if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_MOVES if b not in TRANSITIONS[a]]


def _arguments(session: Session, target: JobStatus) -> dict:
    """What a caller must supply to move into ``target``."""
    if target == S.SCHEDULED:
        technician = session.scalar(select(Technician)) or make_technician(session)
        return {
            "technician_id": technician.id,
            "planned_start": T0,
            "planned_end": T0 + timedelta(hours=1),
        }
    if target == S.ON_HOLD:
        return {"hold_reason": HoldReason.AWAITING_PARTS}
    if target in (S.CANCELLED, S.CANNOT_COMPLETE):
        return {"note": "customer not home"}
    return {}


def _status_events(session: Session, job: Job) -> list[tuple[str | None, str]]:
    """(old, new) status pairs the event log holds for ``job``, oldest first."""
    events = session.scalars(
        select(Event)
        .where(Event.entity_type == "jobs", Event.entity_id == str(job.id))
        .order_by(Event.id)
    )
    return [tuple(e.changes["status"]) for e in events if "status" in e.changes]


def _documented_moves() -> dict[JobStatus, set[JobStatus]]:
    """The moves README.md's "Job lifecycle" section lists, read from its table and prose."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Job lifecycle", 1)[1].split("\n### ", 1)[0]
    moves: dict[JobStatus, set[JobStatus]] = {status: set() for status in JobStatus}
    for source, targets in re.findall(r"^\| (\w+) \| ([^|]+) \|$", section, re.MULTILINE):
        if source in JobStatus._value2member_map_:
            for target in re.findall(r"\b(\w+)\b(?![^(]*\))", targets):
                moves[S(source)].add(S(target))
    match = re.search(
        r"from every open state \(all but ([^)]+)\) to `(\w+)`\s+and `(\w+)`", section
    )
    assert match, "README no longer says which moves every open state has"
    final = {S(name) for name in re.findall(r"\w+", match[1]) if name != "and"}
    for status in set(JobStatus) - final:
        moves[status] |= {S(match[2]), S(match[3])} - {status}
    return moves


def test_readme_documents_exactly_the_moves_the_code_allows() -> None:
    """README's lifecycle lists every move of the table and no other (backward moves included)."""
    assert _documented_moves() == {status: set(TRANSITIONS[status]) for status in JobStatus}


def test_every_status_is_reachable_and_every_open_status_can_finish() -> None:
    """From new, every status can be reached; from every open status, a final state can."""

    def reachable(start: JobStatus) -> set[JobStatus]:
        seen, todo = {start}, [start]
        while todo:
            for target in TRANSITIONS[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    assert reachable(S.NEW) == set(JobStatus)
    for status in set(JobStatus) - TERMINAL:
        assert reachable(status) & TERMINAL, status


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=lambda s: str(s))
def test_allowed_transition_changes_state_and_logs_it(
    session: Session, current: JobStatus, target: JobStatus
) -> None:
    """An allowed move changes the status and writes old -> new to the event log."""
    job = make_job(session, status=current, requires_approval=True, approved=True)
    set_actor(session, user_id=7, name="dispatcher ann")

    follow_up = transition(session, job, target, **_arguments(session, target))
    session.commit()

    assert job.status == target
    assert _status_events(session, job)[-1] == (current.value, target.value)
    event = session.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
    assert (event.actor_user_id, event.actor) == (7, "dispatcher ann")
    assert (follow_up is not None) == (target == S.CANNOT_COMPLETE)


@pytest.mark.parametrize(("current", "target"), REFUSED, ids=lambda s: str(s))
def test_refused_transition_names_current_and_allowed_states(
    session: Session, current: JobStatus, target: JobStatus
) -> None:
    """A move outside the table is refused with the current state and the allowed ones."""
    job = make_job(session, status=current)
    arguments = _arguments(session, target)
    events_before = session.scalar(text("SELECT count(*) FROM events"))

    with pytest.raises(TransitionRefused) as refused:
        transition(session, job, target, **arguments)

    message = str(refused.value)
    assert f"it is {current.value}" in message
    for allowed in TRANSITIONS[current]:
        assert allowed.value in message
    assert refused.value.allowed == sorted(TRANSITIONS[current])
    assert job.status == current
    session.flush()
    assert session.scalar(text("SELECT count(*) FROM events")) == events_before


@pytest.mark.parametrize(
    ("target", "missing"),
    [(S.ON_HOLD, "on hold for"), (S.CANCELLED, "needs a reason"), (S.SCHEDULED, "technician")],
)
def test_transition_without_its_required_details_is_refused(
    session: Session, target: JobStatus, missing: str
) -> None:
    """Hold needs a reason, cancel needs a note, scheduling needs a technician and times."""
    job = make_job(session, status=S.TRIAGED)
    with pytest.raises(TransitionRefused, match=missing):
        transition(session, job, target)
    assert job.status == S.TRIAGED


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"planned_end": T0 - timedelta(minutes=1)}, "end must come after the start"),
        ({"planned_end": T0}, "end must come after the start"),
        ({"technician_id": 999_999}, "no active technician"),
        ({"planned_start": T0.replace(tzinfo=None)}, "time zone offset"),
    ],
    ids=["end-before-start", "empty", "unknown-technician", "naive"],
)
def test_scheduling_with_a_bad_assignment_is_refused(
    session: Session, change: dict[str, object], reason: str
) -> None:
    """Scheduling needs an end after the start and an existing technician; nothing changes."""
    job = make_job(session, status=S.TRIAGED)
    session.commit()
    with pytest.raises(TransitionRefused, match=reason):
        transition(session, job, S.SCHEDULED, **{**_arguments(session, S.SCHEDULED), **change})
    session.commit()
    assert (job.status, job.technician_id, job.planned_start) == (S.TRIAGED, None, None)


def test_inactive_technician_cannot_be_scheduled(session: Session) -> None:
    """A technician who has left (inactive) is refused like an unknown one."""
    job = make_job(session, status=S.TRIAGED)
    arguments = _arguments(session, S.SCHEDULED)
    session.get_one(Technician, arguments["technician_id"]).active = False
    with pytest.raises(TransitionRefused, match="no active technician"):
        transition(session, job, S.SCHEDULED, **arguments)


def test_job_needing_approval_cannot_be_scheduled_before_approval(session: Session) -> None:
    """Approval (awaiting_approval -> triaged) stamps approved_at and unlocks scheduling."""
    job = make_job(session, status=S.TRIAGED, requires_approval=True)
    schedule = _arguments(session, S.SCHEDULED)

    with pytest.raises(TransitionRefused, match="needs approval"):
        transition(session, job, S.SCHEDULED, **schedule)
    transition(session, job, S.AWAITING_APPROVAL)
    transition(session, job, S.TRIAGED)
    assert job.approved_at is not None
    transition(session, job, S.SCHEDULED, **schedule)
    assert job.status == S.SCHEDULED


def test_job_without_approval_rule_cannot_wait_for_approval(session: Session) -> None:
    """Only catalog items that require approval go to awaiting_approval."""
    job = make_job(session, status=S.TRIAGED, requires_approval=False)
    with pytest.raises(TransitionRefused, match="needs no approval"):
        transition(session, job, S.AWAITING_APPROVAL)


def test_cannot_complete_spawns_follow_up_job(session: Session) -> None:
    """cannot_complete keeps the reason and creates a triaged follow-up for the same request."""
    job = make_job(session, status=S.ON_SITE)
    follow_up = transition(session, job, S.CANNOT_COMPLETE, note="part missing")
    session.commit()

    assert job.outcome_note == "part missing"
    assert follow_up is not None
    assert follow_up.status == S.TRIAGED
    assert follow_up.follow_up_of_id == job.id
    assert follow_up.request_id == job.request_id
    assert follow_up.reference == "J-0001-F1"
    assert (follow_up.duration_min, follow_up.site_id) == (job.duration_min, job.site_id)

    for target in (S.SCHEDULED, S.DISPATCHED, S.EN_ROUTE, S.ON_SITE):
        transition(session, follow_up, target, **_arguments(session, target))
    transition(session, follow_up, S.CANNOT_COMPLETE, note="still missing")
    assert follow_up.reference == "J-0001-F1"
    assert session.scalars(select(Job.reference).order_by(Job.id)).all()[-1] == "J-0001-F2"


def test_event_log_replays_to_the_current_state(session: Session) -> None:
    """Replaying a job's status events from creation ends at the status the job has."""
    job = make_job(session, status=S.NEW)
    path = [S.TRIAGED, S.ON_HOLD, S.TRIAGED, S.SCHEDULED, S.DISPATCHED, S.EN_ROUTE]
    path += [S.ON_SITE, S.PAUSED, S.ON_SITE, S.COMPLETED]
    for target in path:
        transition(session, job, target, **_arguments(session, target))
        session.commit()

    events = _status_events(session, job)
    assert events[0] == (None, S.NEW.value)  # creation
    replayed = None
    for old, new in events:
        assert old == replayed, "each event starts where the previous one ended"
        replayed = new
    assert replayed == job.status.value == S.COMPLETED.value
    assert [new for _, new in events[1:]] == [s.value for s in path]


def test_rolled_back_transition_leaves_no_event(sessions: sessionmaker[Session]) -> None:
    """A transition whose transaction rolls back leaves neither the change nor its event."""
    with sessions() as session:
        job = make_job(session, status=S.TRIAGED)
        session.commit()
        transition(session, job, S.CANCELLED, note="duplicate")
        session.rollback()

    with sessions() as session:
        job = session.scalars(select(Job)).one()
        assert job.status == S.TRIAGED
        assert _status_events(session, job) == [(None, S.TRIAGED.value)]


@pytest.mark.parametrize(
    "statement", ["UPDATE events SET actor = 'x'", "DELETE FROM events", "TRUNCATE events"]
)
def test_event_log_is_append_only(sessions: sessionmaker[Session], statement: str) -> None:
    """The database itself refuses to rewrite, delete or truncate history."""
    if statement.startswith("TRUNCATE") and sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE FROM is covered above")
    with sessions() as session:
        make_job(session)
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
            session.flush()

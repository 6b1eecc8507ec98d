"""The feed: entries written with each job change, in its transaction, ids in commit order."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from dispatch import feed
from dispatch.enums import JobStatus, Role
from dispatch.field_models import JobNote
from dispatch.fieldwork import add_note
from dispatch.lifecycle import transition
from dispatch.models import Job, ServiceDay
from dispatch.users import create_user
from tests.helpers import T0, make_job, make_technician

DAY = date(2026, 11, 24)


@dataclass(frozen=True)
class Crew:
    """Two technicians and two triaged jobs, committed."""

    anna: int
    bo: int
    jobs: tuple[int, int]


@pytest.fixture
def crew(sessions: sessionmaker[Session]) -> Crew:
    with sessions.begin() as session:
        session.add(
            ServiceDay(
                day=DAY,
                name="Tuesday",
                timezone="Europe/Oslo",
                travel_speed_kmh=30,
                travel_circuity=1.3,
            )
        )
        anna, bo = make_technician(session, "T-01"), make_technician(session, "T-02")
        jobs = [make_job(session, reference=f"J-000{n}", status=JobStatus.TRIAGED) for n in (1, 2)]
        for job in jobs:
            job.service_date = DAY
        return Crew(anna.id, bo.id, (jobs[0].id, jobs[1].id))


def schedule(session: Session, job_id: int, technician_id: int, hour: int = 0) -> Job:
    job = session.get_one(Job, job_id)
    start = T0 + timedelta(hours=hour)
    transition(
        session,
        job,
        JobStatus.SCHEDULED,
        technician_id=technician_id,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    return job


def entries(sessions: sessionmaker[Session], after: int = 0) -> list[tuple[str, int | None, Any]]:
    """(kind, technician id, payload) of each entry after ``after``, as another session sees."""
    with sessions() as session:
        found = feed.entries_after(session, after, technician_id=None, limit=1000)
        return [(e.kind, e.technician_id, e.payload) for e in found]


def mark(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return feed.latest_id(session)


def test_a_change_is_in_the_feed_once_committed_and_not_before(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """The entry is written in the change's transaction: invisible until it commits."""
    start = mark(sessions)
    with sessions() as session:
        schedule(session, crew.jobs[0], crew.anna, hour=1)
        session.flush()
        assert entries(sessions, start) == []
        session.commit()
    [(kind, technician, payload)] = entries(sessions, start)
    assert (kind, technician) == (feed.JOB_CHANGED, crew.anna)
    assert payload == {
        "reference": "J-0001",
        "status": "scheduled",
        "priority": "normal",
        "title": "Boiler service",
        "service_date": "2026-11-24",
        # T0 is 08:00 UTC; the day is planned on Oslo's clock (+01:00 in November).
        "planned_start": "2026-11-24T10:00:00+01:00",
        "planned_end": "2026-11-24T11:00:00+01:00",
        "technician": "T-01",
    }


def test_a_rolled_back_change_leaves_no_entry(sessions: sessionmaker[Session], crew: Crew) -> None:
    """Rolled back after a flush, or closed without a commit: nothing; the session then
    writes only what it commits next."""
    start = mark(sessions)
    with sessions() as session:
        schedule(session, crew.jobs[0], crew.anna)
        session.flush()
        session.rollback()
        session.get_one(Job, crew.jobs[1]).title = "Heat pump service"
        session.commit()
    with sessions() as session:
        schedule(session, crew.jobs[0], crew.anna)
        session.flush()
    assert [(kind, payload["reference"]) for kind, _, payload in entries(sessions, start)] == [
        (feed.JOB_CHANGED, "J-0002")
    ]


def test_reassigning_leaves_a_tombstone_for_the_previous_technician(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """Moved from Anna to Bo: Anna's feed says it left (reassigned), Bo's has the job."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
    start = mark(sessions)
    with sessions.begin() as session:
        session.get_one(Job, crew.jobs[0]).technician_id = crew.bo
    tombstone, moved = entries(sessions, start)
    assert tombstone == (
        feed.JOB_REMOVED,
        crew.anna,
        {"reference": "J-0001", "reason": "reassigned", "technician": "T-01"},
    )
    assert moved[:2] == (feed.JOB_CHANGED, crew.bo)
    assert (moved[2]["reference"], moved[2]["technician"]) == ("J-0001", "T-02")


def test_cancelling_and_unscheduling_leave_tombstones_and_a_dispatchers_entry(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """A job that belongs to nobody any more is a tombstone for its technician and an
    entry for dispatchers only (technician None)."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
        schedule(session, crew.jobs[1], crew.bo)
    start = mark(sessions)
    with sessions.begin() as session:
        transition(session, session.get_one(Job, crew.jobs[0]), JobStatus.CANCELLED, note="gone")
        transition(session, session.get_one(Job, crew.jobs[1]), JobStatus.TRIAGED)
    found = entries(sessions, start)
    assert [
        (kind, technician, p["reference"], p.get("reason")) for kind, technician, p in found
    ] == [
        (feed.JOB_REMOVED, crew.anna, "J-0001", "cancelled"),
        (feed.JOB_CHANGED, None, "J-0001", None),
        (feed.JOB_REMOVED, crew.bo, "J-0002", "unassigned"),
        (feed.JOB_CHANGED, None, "J-0002", None),
    ]
    assert found[1][2]["status"] == "cancelled" and found[1][2]["technician"] is None


def test_a_transaction_reports_where_a_job_ended_not_each_step(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """Anna -> Bo -> unassigned -> Bo over several flushes, then committed (its last
    change flushed by the commit itself): one tombstone for Anna and Bo's entry."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
    start = mark(sessions)
    with sessions() as session:
        job = session.get_one(Job, crew.jobs[0])
        job.technician_id = crew.bo
        session.flush()
        job.technician_id = None
        session.flush()
        job.technician_id = crew.bo
        job.planned_start = T0 + timedelta(minutes=30)
        session.commit()
    found = entries(sessions, start)
    assert [(kind, technician) for kind, technician, _ in found] == [
        (feed.JOB_REMOVED, crew.anna),
        (feed.JOB_CHANGED, crew.bo),
    ]
    assert found[1][2]["planned_start"] == "2026-11-24T09:30:00+01:00"


def test_the_previous_technician_is_known_even_when_it_was_not_loaded(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """A job whose technician was expired (not loaded) when reassigned still tombstones
    for the technician it had."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
    start = mark(sessions)
    with sessions() as session:
        job = session.get_one(Job, crew.jobs[0])
        session.expire(job, ["technician_id"])
        job.technician_id = crew.bo
        session.commit()
    assert [(kind, technician) for kind, technician, _ in entries(sessions, start)] == [
        (feed.JOB_REMOVED, crew.anna),
        (feed.JOB_CHANGED, crew.bo),
    ]


def test_a_rolled_back_savepoint_takes_its_entries_with_it(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """Changes undone by a savepoint (a refused item of a batch) are not reported; the
    transaction's other changes and records are."""
    start = mark(sessions)
    with sessions() as session:
        schedule(session, crew.jobs[0], crew.anna)
        feed.record(session, "job.note_added", technician_id=crew.anna, payload={"n": 1})
        savepoint = session.begin_nested()
        schedule(session, crew.jobs[1], crew.bo)
        feed.record(session, "job.note_added", technician_id=crew.bo, payload={"n": 2})
        savepoint.rollback()
        with session.begin_nested():
            feed.record(session, "job.note_added", technician_id=crew.anna, payload={"n": 3})
        session.commit()
    assert [(kind, technician) for kind, technician, _ in entries(sessions, start)] == [
        (feed.JOB_CHANGED, crew.anna),
        ("job.note_added", crew.anna),
        ("job.note_added", crew.anna),
    ]


def test_recorded_entries_follow_the_jobs_entries_and_go_with_a_rollback(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """``record`` adds an entry at commit, after the jobs' own; a rollback drops it."""
    start = mark(sessions)
    with sessions() as session:
        feed.record(
            session,
            "route.published",
            technician_id=crew.anna,
            service_date=DAY,
            payload={"technician": "T-01", "version": 1},
        )
        schedule(session, crew.jobs[0], crew.anna)
        session.commit()
        feed.record(session, "route.published", technician_id=crew.bo, payload={})
        session.rollback()
    assert [(kind, technician) for kind, technician, _ in entries(sessions, start)] == [
        (feed.JOB_CHANGED, crew.anna),
        ("route.published", crew.anna),
    ]
    with sessions() as session:
        [published] = feed.entries_after(session, start, technician_id=crew.anna, limit=10)[1:]
        assert feed.as_change(published) == {
            "kind": "route.published",
            "service_date": "2026-11-24",
            "payload": {"technician": "T-01", "version": 1},
        }


def test_changes_the_phone_does_not_show_write_nothing(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """A job change outside the watched columns, or a commit without changes, adds nothing."""
    start = mark(sessions)
    with sessions() as session:
        session.get_one(Job, crew.jobs[0]).outcome_note = "asked for a callback"
        session.commit()
        session.commit()
    assert entries(sessions, start) == []


def test_a_note_on_a_job_is_news_of_the_job_for_its_technician(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """What the job's card shows changed (a note added, then edited), so the technician's
    feed gets the job's snapshot; its route answer must be read again."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
    start = mark(sessions)
    note_id = uuid.uuid4()
    with sessions.begin() as session:
        add_note(
            session,
            session.get_one(Job, crew.jobs[0]),
            note_id=note_id,
            author_user_id=create_user(
                session,
                username="anna",
                password="pw-anna-1234",
                roles=[Role.TECHNICIAN],
                full_name="Anna",
            ).id,
            body="gate code 4411",
            device_time=T0,
        )
    with sessions.begin() as session:
        session.get_one(JobNote, note_id).body = "gate code 4412"
    found = entries(sessions, start)
    assert [(kind, who, payload["reference"]) for kind, who, payload in found] == [
        ("job.changed", crew.anna, "J-0001"),
        ("job.changed", crew.anna, "J-0001"),
    ]


def test_on_commit_tells_the_newest_id_of_commits_that_wrote_entries(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """The in-process wake-up: called once per commit that wrote, with its newest id."""
    told: list[int] = []
    stop = feed.on_commit(sessions, told.append)
    with sessions() as session:
        session.get_one(Job, crew.jobs[0]).outcome_note = "nothing the phone shows"
        session.commit()
        schedule(session, crew.jobs[0], crew.anna)
        with session.begin_nested():
            schedule(session, crew.jobs[1], crew.bo)
        session.commit()
    stop()
    with sessions.begin() as session:
        session.get_one(Job, crew.jobs[0]).title = "after the listener stopped"
    assert told == [mark(sessions) - 1]


def test_sync_keeps_each_jobs_latest_state_and_every_other_entry(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """``collapse``: one change per job (its latest, in its place), other kinds all kept."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
    with sessions.begin() as session:
        feed.record(session, "route.published", technician_id=crew.anna, payload={})
    with sessions.begin() as session:
        schedule(session, crew.jobs[1], crew.anna)
    with sessions.begin() as session:
        session.get_one(Job, crew.jobs[0]).technician_id = crew.bo
    with sessions() as session:
        mine = feed.entries_after(session, 0, technician_id=crew.anna, limit=100)
        changes = feed.collapse(mine)
    assert [(c["kind"], c.get("job"), c.get("removed")) for c in changes] == [
        ("route.published", None, None),
        (feed.JOB_CHANGED, "J-0002", False),
        (feed.JOB_REMOVED, "J-0001", True),
    ]


@pytest.mark.postgresql_only
def test_an_entry_committed_later_gets_the_larger_id(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """T1 changes its job first but commits after T2: T1's entry comes after T2's, so a
    reader that saw T2's entry cannot skip T1's."""
    start = mark(sessions)
    with sessions() as first, sessions() as second:
        schedule(first, crew.jobs[0], crew.anna)
        first.flush()
        schedule(second, crew.jobs[1], crew.bo)
        second.commit()
        seen = mark(sessions)
        first.commit()
    found = entries(sessions, start)
    assert [p["reference"] for _, _, p in found] == ["J-0002", "J-0001"]
    with sessions() as session:
        assert [
            e.payload["reference"]
            for e in feed.entries_after(session, seen, technician_id=None, limit=10)
        ] == ["J-0001"]


@pytest.fixture
def paused_commits(
    sessions: sessionmaker[Session],
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Sessions with ``info["pause"]`` stop in their commit after writing the feed and
    before the database commits, until released: (written, release)."""
    written, release = threading.Event(), threading.Event()

    def pause(session: Session) -> None:
        if session.info.get("pause"):
            written.set()
            assert release.wait(10)

    event.listen(sessions, "before_commit", pause)  # runs after the feed's own hook
    yield written, release
    release.set()
    event.remove(sessions, "before_commit", pause)


@pytest.mark.postgresql_only
def test_a_writer_waits_for_the_one_that_wrote_before_it_to_commit(
    sessions: sessionmaker[Session],
    crew: Crew,
    paused_commits: tuple[threading.Event, threading.Event],
) -> None:
    """T1 has written its entry (taken its id) but not committed: T2's commit waits, so no
    reader ever sees T2's entry without T1's smaller one."""
    written, release = paused_commits
    start = mark(sessions)
    done: list[str] = []

    def change(job_id: int, technician_id: int, paused: bool) -> None:
        with sessions() as session:
            session.info["pause"] = paused
            reference = schedule(session, job_id, technician_id).reference
            session.commit()
        done.append(reference)

    first = threading.Thread(target=change, args=(crew.jobs[0], crew.anna, True))
    first.start()
    assert written.wait(10)
    second = threading.Thread(target=change, args=(crew.jobs[1], crew.bo, False))
    second.start()
    second.join(0.5)
    assert second.is_alive() and done == []
    assert entries(sessions, start) == []
    release.set()
    first.join(10)
    second.join(10)
    assert done == ["J-0001", "J-0002"]
    assert [p["reference"] for _, _, p in entries(sessions, start)] == ["J-0001", "J-0002"]


def test_entries_after_reads_one_technicians_feed_or_every_entry(
    sessions: sessionmaker[Session], crew: Crew
) -> None:
    """A technician's feed is theirs alone; dispatchers (None) read every entry, in id order."""
    with sessions.begin() as session:
        schedule(session, crew.jobs[0], crew.anna)
        schedule(session, crew.jobs[1], crew.bo)
    with sessions() as session:
        everything = feed.entries_after(session, 0, technician_id=None, limit=100)
        annas = feed.entries_after(session, 0, technician_id=crew.anna, limit=100)
        assert [e.id for e in everything] == sorted(e.id for e in everything)
        assert {e.technician_id for e in annas} == {crew.anna}
        assert annas == [e for e in everything if e.technician_id == crew.anna]
        assert feed.entries_after(session, everything[-2].id, technician_id=None, limit=1) == [
            everything[-1]
        ]
        assert feed.latest_id(session) == everything[-1].id

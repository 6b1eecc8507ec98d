"""Builders for test data that several test modules need."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time
from time import sleep
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.enums import Channel, JobStatus, Priority
from dispatch.models import CatalogItem, Job, ServiceRequest, Site, Technician, WorkingHours
from inventory.models import Movement, MovementKind, Reservation, StockLevel

T = TypeVar("T")

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def make_technician(session: Session, code: str = "T-01") -> Technician:
    """A technician working 08:00-16:00 Monday to Friday."""
    technician = Technician(
        code=code,
        name=f"Technician {code}",
        skills=["hvac"],
        home_latitude=59.9,
        home_longitude=10.7,
        working_hours=[
            WorkingHours(weekday=d, start_time=time(8), end_time=time(16)) for d in range(5)
        ],
    )
    session.add(technician)
    session.flush()
    return technician


def make_job(
    session: Session,
    *,
    reference: str = "J-0001",
    status: JobStatus = JobStatus.NEW,
    requires_approval: bool = False,
    approved: bool = False,
) -> Job:
    """A one-hour job at a site in Oslo, created directly in ``status``."""
    catalog_item = CatalogItem(
        code=f"CAT-{reference}",
        name="Boiler service",
        category="heating",
        default_duration_min=60,
        requires_approval=requires_approval,
    )
    site = Site(name="Flat 3", latitude=59.91, longitude=10.75)
    request = ServiceRequest(
        reference=f"SR-{reference}",
        channel=Channel.PHONE,
        requester_name="Kari Nordmann",
        site=site,
        catalog_item=catalog_item,
        title="Boiler service",
        priority=Priority.NORMAL,
    )
    job = Job(
        reference=reference,
        request=request,
        site=site,
        title="Boiler service",
        status=status,
        priority=Priority.NORMAL,
        duration_min=60,
        approved_at=T0 if approved else None,
    )
    session.add(job)
    session.flush()
    return job


def count_rows(database_url: str, model: type) -> int:
    """Rows of ``model`` in the database at ``database_url`` (as a separate process sees it)."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        result = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    assert result is not None
    return result


def race(
    sessions: sessionmaker[Session], count: int, work: Callable[[Session], T], *, hold_s: float
) -> list[T]:
    """What ``work`` returns in ``count`` threads started at once, each in its own session.

    Each thread keeps its transaction open ``hold_s`` seconds after ``work`` and then
    commits, so the others must wait on whatever it locked. An exception in any thread
    fails the calling test.
    """
    barrier = threading.Barrier(count)
    results: list[T] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            with sessions() as session:
                barrier.wait(timeout=10)
                result = work(session)
                sleep(hold_s)
                session.commit()
            with lock:
                results.append(result)
        except BaseException as exc:  # noqa: BLE001 - the main thread reports it in its assert
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    return results


def assert_books_agree(session: Session) -> None:
    """The stock books agree: each balance is the sum of its ledger rows and of its
    reservation lines, within 0 <= reserved <= on hand, and each line holds what its
    ledger reserve and release rows say."""
    sums = {
        (location, part): (on_hand, reserved)
        for location, part, on_hand, reserved in session.execute(
            select(
                Movement.location_id,
                Movement.part_id,
                func.sum(Movement.on_hand_change),
                func.sum(Movement.reserved_change),
            ).group_by(Movement.location_id, Movement.part_id)
        )
    }
    held: Counter[tuple[int, int]] = Counter()
    for line in session.scalars(select(Reservation)):
        held[line.location_id, line.part_id] += line.reserved
        assert 0 <= line.reserved <= line.wanted
    levels = session.execute(
        select(StockLevel.location_id, StockLevel.part_id, StockLevel.on_hand, StockLevel.reserved)
    ).all()
    for location, part, on_hand, reserved in levels:
        assert (on_hand, reserved) == sums.get((location, part), (0, 0))
        assert 0 <= reserved <= on_hand
        assert reserved == held[location, part]
    assert {(location, part) for location, part, *_ in levels} >= set(sums)
    per_line: Counter[tuple[int | None, int, int]] = Counter()
    for job, location, part, change in session.execute(
        select(
            Movement.job_id, Movement.location_id, Movement.part_id, Movement.reserved_change
        ).where(Movement.kind.in_([MovementKind.RESERVE, MovementKind.RELEASE]))
    ):
        per_line[job, location, part] += change
    lines = {
        (line.job_id, line.location_id, line.part_id): line.reserved
        for line in session.scalars(select(Reservation))
    }
    assert {key: n for key, n in per_line.items() if n} == {k: n for k, n in lines.items() if n}

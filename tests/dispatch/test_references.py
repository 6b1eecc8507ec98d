"""Reference numbers: consecutive per series, and unique under concurrent callers."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.models import ReferenceCounter
from dispatch.references import next_reference

THREADS = 8


def test_numbers_are_consecutive_within_a_series(session: Session) -> None:
    """Successive calls give 1, 2, 3 of the series, zero-padded to six digits."""
    references = [next_reference(session, "SR", year=2026) for _ in range(3)]

    assert references == ["SR-2026-000001", "SR-2026-000002", "SR-2026-000003"]


def test_each_prefix_and_year_counts_on_its_own(session: Session) -> None:
    """Another year or another prefix starts again at 1 and leaves the first series alone."""
    next_reference(session, "SR", year=2026)
    next_reference(session, "SR", year=2026)

    assert next_reference(session, "SR", year=2027) == "SR-2027-000001"
    assert next_reference(session, "PO", year=2026) == "PO-2026-000001"
    assert next_reference(session, "SR", year=2026) == "SR-2026-000003"


def test_rolled_back_number_is_handed_out_again(sessions: sessionmaker[Session]) -> None:
    """A number taken in a transaction that rolls back is not lost: references have no gaps."""
    with sessions() as session:
        assert next_reference(session, "SR", year=2026) == "SR-2026-000001"
        session.commit()
        assert next_reference(session, "SR", year=2026) == "SR-2026-000002"
        session.rollback()

    with sessions() as session:
        assert next_reference(session, "SR", year=2026) == "SR-2026-000002"


@pytest.mark.postgresql_only
def test_concurrent_callers_get_distinct_consecutive_numbers(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Eight threads with their own sessions, racing to create the series, get numbers 1 to 8."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes all writers; the row lock is PostgreSQL's to prove")
    barrier = threading.Barrier(THREADS)
    references: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def take_one() -> None:
        try:
            with sessions() as session:
                barrier.wait(timeout=10)
                reference = next_reference(session, "SR", year=2026)
                time.sleep(0.05)  # keep the transaction open: the others must wait on the lock
                session.commit()
            with lock:
                references.append(reference)
        except BaseException as exc:  # reported by the main thread, which owns the assert
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=take_one) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(references) == [f"SR-2026-{n:06d}" for n in range(1, THREADS + 1)]
    with sessions() as session:
        counter = session.scalars(select(ReferenceCounter)).one()
        assert (counter.series, counter.value) == ("SR-2026", THREADS)

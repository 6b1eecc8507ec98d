"""Reference numbers: consecutive per series, unique under concurrent callers, never in use."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.models import ReferenceCounter
from dispatch.references import is_intake_reference, next_intake_reference, next_reference
from tests.helpers import make_job, race

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
    sessions: sessionmaker[Session],
) -> None:
    """Eight threads with their own sessions, racing to create the series, get numbers 1 to 8."""
    references = race(
        sessions, THREADS, lambda session: next_reference(session, "SR", year=2026), hold_s=0.05
    )

    assert sorted(references) == [f"SR-2026-{n:06d}" for n in range(1, THREADS + 1)]
    with sessions() as session:
        counter = session.scalars(select(ReferenceCounter)).one()
        assert (counter.series, counter.value) == ("SR-2026", THREADS)


@pytest.mark.postgresql_only
def test_concurrent_intake_callers_skip_an_imported_number_once(
    sessions: sessionmaker[Session],
) -> None:
    """Racing intake callers all skip a number an imported job uses, and none gets it twice."""
    with sessions() as session:
        make_job(session, reference="SR-2026-000003-1")
        session.commit()

    references = race(
        sessions, THREADS, lambda session: next_intake_reference(session, year=2026), hold_s=0.05
    )

    expected = [n for n in range(1, THREADS + 2) if n != 3]
    assert sorted(references) == [f"SR-2026-{n:06d}" for n in expected]


@pytest.mark.parametrize(
    "text",
    [
        "SR-2026-000042",
        "SR-2026-000042-1",
        "SR-2026-000042-1-F1",
        "SR-2026-000042-1-F12",
        "SR-2026-1234567-1",
        "2026-000042",
        "2026-000042-1",
    ],
)
def test_shapes_intake_hands_out_are_recognised(text: str) -> None:
    """Requests, their jobs and follow-ups, with or without ``SR-``, are intake references."""
    assert is_intake_reference(text)


@pytest.mark.parametrize(
    "text",
    ["J-0001", "JOB-2026-000042", "2026-42", "SR-2026-00042", "SR-2026-000042-X", "sr-2026-x", ""],
)
def test_other_ids_are_not_intake_references(text: str) -> None:
    """Ids of other shapes (too few digits, other prefixes, other suffixes) are free to import."""
    assert not is_intake_reference(text)


def test_intake_reference_taken_by_an_imported_request_is_skipped(session: Session) -> None:
    """A request imported as ``SR-<year>-<number>`` makes intake move on to the next number."""
    make_job(session, reference="2026-000001")  # the importer's request: SR-2026-000001

    assert next_intake_reference(session, year=2026) == "SR-2026-000002"
    assert next_intake_reference(session, year=2026) == "SR-2026-000003"

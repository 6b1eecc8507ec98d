"""CSV import of service requests: rows through intake, unreadable files refused by row."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.days import plannable_jobs
from dispatch.enums import JobStatus, Priority
from dispatch.geocoding import GeocodeResult, GeocodingError, NominatimGeocoder
from dispatch.intake import triage_queue
from dispatch.models import CatalogItem, Job, ServiceRequest, Site, SlaTarget
from dispatch.request_import import COLUMNS, CsvImportError, import_requests
from tests.fake_nominatim import FakeNominatim
from tests.helpers import make_technician

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HEADER = "requester_name,latitude,longitude,catalog_code,impact,urgency"
GOOD_ROW = "Ann,59.9,10.7,LEAK,low,low"


class DownGeocoder:
    """A geocoding service that is down, counting how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def geocode(self, query: str) -> GeocodeResult | None:
        self.calls += 1
        raise GeocodingError("Geocoding service failed: Service not available")


@pytest.fixture(autouse=True)
def catalog(session: Session) -> None:
    """One catalog item, LEAK."""
    session.add(
        CatalogItem(code="LEAK", name="Leak", category="plumbing", default_duration_min=60)
    )
    session.commit()


def run(session: Session, text: str) -> list[str]:
    """Import ``text``; the problems it was refused with (none when it was accepted)."""
    try:
        import_requests(session, io.StringIO(text), geocoder=DownGeocoder(), now=NOW)
    except CsvImportError as exc:
        session.rollback()
        return exc.problems
    session.commit()
    return []


def rows_written(session: Session) -> list[int]:
    return [
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (ServiceRequest, Job, Site)
    ]


def test_good_file_records_every_row(session: Session) -> None:
    """A clean file records one request per row."""
    assert run(session, f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n") == []
    assert rows_written(session) == [2, 2, 2]


def test_rows_are_triaged_and_dated_when_the_catalog_allows(session: Session) -> None:
    """A row for an item with SLA targets arrives triaged on a day a plumber works (Monday is
    today, in UTC as no service day is set up); a LEAK row, without SLA, waits in the queue."""
    session.add(
        CatalogItem(
            code="TAP",
            name="Tap",
            category="plumbing",
            default_duration_min=30,
            required_skills=["plumbing"],
            sla_targets=[
                SlaTarget(priority=Priority.LOW, response_minutes=60, resolution_minutes=600)
            ],
        )
    )
    make_technician(session).skills = ["plumbing"]
    session.commit()

    assert run(session, f"{HEADER}\nBo,59.9,10.7,TAP,low,low\n{GOOD_ROW}\n") == []

    tap, leak = session.scalars(select(Job).order_by(Job.id))
    assert (tap.status, tap.service_date) == (JobStatus.TRIAGED, NOW.date())
    assert plannable_jobs(session, NOW.date()) == [tap]
    assert [queued.job for queued in triage_queue(session)] == [leak]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW},extra,cells\n",
            "row 3: 2 cell(s) more than the header",
        ),
        (
            f'{HEADER}\n{GOOD_ROW}\nBo,59.9,10.7,"LEAK,low,low\n{GOOD_ROW}\n',
            "row 3: a quoted cell is never closed",
        ),
        (
            f'{HEADER}\n"Ann"x,59.9,10.7,LEAK,low,low\n',
            "row 2: a quoted cell goes on after its closing quote",
        ),
        (
            f"{HEADER}\nAnn,59.9,10.7,LEAK,low,{'x' * (csv.field_size_limit() + 1)}\n",
            f"row 2: a cell is longer than {csv.field_size_limit():,} characters",
        ),
        (
            f"{HEADER}\nA\x00nn,59.9,10.7,LEAK,low,low\n",
            "row 2, requester_name: must not contain NUL characters",
        ),
        (
            f"{HEADER},description\n{GOOD_ROW},{'d' * 4001}\n",
            "row 2, description: String should have at most 4000 characters",
        ),
        (
            f"{HEADER},window_start\n{GOOD_ROW},0001-01-01T00:00:00+01:00\n",
            "row 2, window_start: is outside years 1 to 9999",
        ),
        (
            f"{HEADER},window_end\n{GOOD_ROW},9999-12-31T23:59:00-01:00\n",
            "row 2, window_end: is outside years 1 to 9999",
        ),
        (
            f"{HEADER},window_start\n{GOOD_ROW},2026-03-03T08:00\n",
            "row 2, window_start: give a time zone offset",
        ),
    ],
    ids=[
        "extra-cells",
        "unclosed-quote",
        "text-after-quote",
        "huge-cell",
        "nul",
        "long-description",
        "before-year-1-in-utc",
        "after-year-9999-in-utc",
        "naive-time",
    ],
)
def test_bad_row_is_refused_by_number_and_nothing_written(
    session: Session, text: str, problem: str
) -> None:
    """Unreadable or invalid rows are reported by row number; no row of the file is kept."""
    problems = run(session, text)

    assert any(p.startswith(problem) for p in problems), problems
    assert rows_written(session) == [0, 0, 0]


def test_unknown_column_lists_the_allowed_ones(session: Session) -> None:
    """A misspelt column is named, together with every column the file may have."""
    [problem] = run(session, "requester_nmae,latitude\nAnn,59\n")

    assert "unknown column(s) requester_nmae" in problem
    assert all(column in problem for column in COLUMNS)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("requester_name,,latitude", "header: unknown column(s) (blank); allowed: "),
        ("requester_name,latitude,latitude", "header: column(s) latitude given more than once"),
    ],
    ids=["blank", "repeated"],
)
def test_blank_or_repeated_column_is_refused(session: Session, header: str, problem: str) -> None:
    """A nameless column or one given twice (which would hide a value) is refused by name."""
    [refusal] = run(session, f"{header}\nAnn,59.9,10.7\n")

    assert refusal.startswith(problem)


def test_unreadable_header_is_refused(session: Session) -> None:
    """A header with an unclosed quote is reported as the header's problem."""
    assert run(session, '"requester_name,latitude\n') == [
        'header: a quoted cell is never closed (a " without its closing ")'
    ]


def test_dead_geocoder_is_asked_once_per_file(session: Session) -> None:
    """When geocoding fails, later address rows fail at once instead of each waiting for it."""
    header = "requester_name,address,catalog_code,impact,urgency"
    text = header + "\n" + "\n".join(f"P{n},Storgata {n},LEAK,low,low" for n in range(3)) + "\n"
    geocoder = DownGeocoder()

    with pytest.raises(CsvImportError) as refused:
        import_requests(session, io.StringIO(text), geocoder=geocoder, now=NOW)

    assert geocoder.calls == 1
    assert [p.split(":")[0] for p in refused.value.problems] == [
        f"row {n}, address" for n in (2, 3, 4)
    ]
    assert all("could not be checked" in p for p in refused.value.problems)


def test_unreachable_geocoder_logs_no_traceback(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """With no geocoding service, rows get one message each and nothing logs a traceback."""
    with FakeNominatim() as server:
        address = urlsplit(server.url).netloc
    # The server is gone: its port refuses connections, as with no network.
    geocoder = NominatimGeocoder(
        user_agent="fieldops-tests/1.0",
        domain=address,
        scheme="http",
        min_delay_seconds=0.0,
        error_wait_seconds=5.0,
        max_retries=2,
    )
    text = "requester_name,address,catalog_code,impact,urgency\nAnn,Storgata 1,LEAK,low,low\n"

    with caplog.at_level(logging.DEBUG), pytest.raises(CsvImportError) as refused:
        import_requests(session, io.StringIO(text), geocoder=geocoder, now=NOW)

    [problem] = refused.value.problems
    assert problem.startswith("row 2, address: the address could not be checked")
    assert [r for r in caplog.records if r.exc_info] == []

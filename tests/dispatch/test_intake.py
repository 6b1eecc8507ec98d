"""Intake: checking a submission, recording request, site and job, and triage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import Channel, JobStatus, Level, Priority
from dispatch.geocoding import CachedGeocoder, GeocodeResult, NominatimGeocoder
from dispatch.intake import IntakeError, priority_for, submit_request, triage, triage_gaps
from dispatch.lifecycle import TransitionRefused
from dispatch.models import CatalogItem, Customer, Event, ServiceRequest, SlaTarget
from tests.fake_nominatim import FakeNominatim
from tests.helpers import make_job, make_technician

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW

# (response, resolution) minutes per priority; "low" has no target on purpose.
BOILER_SLA = {
    Priority.EMERGENCY: (60, 240),
    Priority.HIGH: (240, 1440),
    Priority.NORMAL: (480, 2880),
}
ADDRESS = "Storgata 1, Oslo"
PLACE = (59.9127, 10.7461, "Storgata 1, 0155 Oslo, Norway")


class NoGeocoder:
    """Geocoder for requests that give coordinates: any lookup fails the test."""

    def geocode(self, query: str) -> GeocodeResult | None:
        raise AssertionError(f"unexpected geocoding of {query!r}")


@pytest.fixture
def catalog(engine: Engine) -> None:
    """Seed a boiler repair with SLA targets, an approval-requiring install, a survey triaged
    by hand, a retired item, and a technician who can do them all (weekdays 08:00-16:00).

    Written through a plain session (no event log), as reference data would be,
    so tests see only the events intake itself causes.
    """
    boiler = CatalogItem(
        code="BOILER-REPAIR",
        name="Boiler repair",
        category="heating",
        default_duration_min=90,
        required_skills=["gas", "heating"],
        typical_parts={"GAS-VLV-15": 1, "THERMO-CPL": 2},
        sla_targets=[
            SlaTarget(priority=p, response_minutes=r, resolution_minutes=s)
            for p, (r, s) in BOILER_SLA.items()
        ],
    )
    heat_pump = CatalogItem(
        code="HEATPUMP-INSTALL",
        name="Heat pump installation",
        category="heating",
        default_duration_min=300,
        required_skills=["heat-pump"],
        typical_parts={"HP-BRKT": 1},
        requires_approval=True,
        sla_targets=[
            SlaTarget(priority=p, response_minutes=1440, resolution_minutes=10080)
            for p in Priority
        ],
    )
    survey = CatalogItem(
        code="SITE-SURVEY",
        name="Site survey",
        category="heating",
        default_duration_min=90,
        required_skills=["heating"],
        manual_triage=True,
        sla_targets=[
            SlaTarget(priority=p, response_minutes=1440, resolution_minutes=10080)
            for p in Priority
        ],
    )
    retired = CatalogItem(
        code="FAX-REPAIR",
        name="Fax repair",
        category="office",
        default_duration_min=30,
        active=False,
    )
    with Session(engine) as seeding:
        seeding.add_all([boiler, heat_pump, survey, retired])
        make_technician(seeding, code="T-HEAT").skills = ["gas", "heating", "heat-pump"]
        seeding.commit()


@pytest.fixture
def server() -> Iterator[FakeNominatim]:
    """A fake Nominatim that knows one address in Oslo."""
    with FakeNominatim({ADDRESS: PLACE}) as fake:
        yield fake


def nominatim(server: FakeNominatim) -> NominatimGeocoder:
    """The real geopy-backed geocoder aimed at the fake server, without delays or retries."""
    return NominatimGeocoder(
        user_agent="fieldops-tests/1.0 (dispatch@example.com)",
        domain=urlsplit(server.url).netloc,
        scheme="http",
        min_delay_seconds=0.0,
        error_wait_seconds=0.0,
        max_retries=0,
        timeout=5.0,
    )


def submission(**changes: Any) -> dict[str, Any]:
    """A valid web-form submission with coordinates, with ``changes`` applied on top."""
    data: dict[str, Any] = {
        "channel": "web",
        "requester": {"name": "Kari Nordmann", "email": "kari@example.com", "phone": "+47 22"},
        "customer_name": "Nordmann Eiendom AS",
        "site": {
            "latitude": 59.91,
            "longitude": 10.75,
            "access_notes": "Key in the box",
            "contact_name": "Ola",
            "contact_phone": "+47 23",
        },
        "catalog_code": "BOILER-REPAIR",
        "description": "No hot water since this morning.",
        "impact": "medium",
        "urgency": "high",
        "window_start": "2026-03-03T08:00:00+01:00",
        "window_end": "2026-03-03T12:00:00+01:00",
        "service_date": "2026-03-03",
    }
    data.update(changes)
    return data


def count(session: Session, table: str) -> int:
    return session.scalar(text(f"SELECT count(*) FROM {table}"))


def test_request_with_coordinates_creates_request_site_and_job(
    session: Session, catalog: None
) -> None:
    """Given coordinates are kept; priority, SLA dues, reference and job fields are derived."""
    request = submit_request(session, submission(), geocoder=NoGeocoder(), now=NOW)
    session.commit()

    assert request.reference == "SR-2026-000001"
    assert (request.channel, request.requester_name) == (Channel.WEB, "Kari Nordmann")
    assert request.requester_email == "kari@example.com"
    assert (request.impact, request.urgency, request.priority) == (M, H, Priority.HIGH)
    assert request.title == "Boiler repair"
    assert request.created_at == NOW
    assert request.sla_response_due == NOW + timedelta(minutes=240)
    assert request.sla_resolution_due == NOW + timedelta(minutes=1440)
    customer = session.get(Customer, request.customer_id)
    assert customer is not None and customer.name == "Nordmann Eiendom AS"

    site = request.site
    assert (site.latitude, site.longitude) == (59.91, 10.75)
    assert (site.customer_id, site.access_notes) == (customer.id, "Key in the box")
    assert (site.contact_name, site.contact_phone) == ("Ola", "+47 23")

    [job] = request.jobs
    assert job.reference == "SR-2026-000001-1"
    assert (job.status, job.priority, job.title) == (
        JobStatus.TRIAGED,
        Priority.HIGH,
        "Boiler repair",
    )
    assert (job.duration_min, job.required_skills) == (90, ["gas", "heating"])
    assert [(p.sku, p.quantity, p.position) for p in job.parts] == [
        ("GAS-VLV-15", 1, 0),
        ("THERMO-CPL", 2, 1),
    ]
    assert job.site_id == site.id
    assert job.window_start == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    assert job.window_end == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
    assert str(job.service_date) == "2026-03-03", "the day the request asked for, kept"
    assert job.no_date_reason is None
    assert job.sla_due == request.sla_resolution_due

    logged = {(e.entity_type, e.entity_id, e.action) for e in session.scalars(select(Event))}
    assert logged == {
        ("customers", str(customer.id), "created"),
        ("sites", str(site.id), "created"),
        ("service_requests", str(request.id), "created"),
        ("jobs", str(job.id), "created"),
        ("jobs", str(job.id), "updated"),  # triaged at intake
        ("job_parts", f"{job.id}/GAS-VLV-15", "created"),
        ("job_parts", f"{job.id}/THERMO-CPL", "created"),
    }


def test_second_request_reuses_customer_and_takes_next_reference(
    session: Session, catalog: None
) -> None:
    """A known customer name is reused, and each request gets the next number of the year."""
    first = submit_request(session, submission(), geocoder=NoGeocoder(), now=NOW)
    second = submit_request(
        session, submission(title="Radiator cold"), geocoder=NoGeocoder(), now=NOW
    )

    assert second.reference == "SR-2026-000002"
    assert second.jobs[0].reference == "SR-2026-000002-1"
    assert second.title == second.jobs[0].title == "Radiator cold"
    assert second.customer_id == first.customer_id
    assert count(session, "customers") == 1


def test_priority_without_sla_target_leaves_dues_empty_and_job_in_queue(
    session: Session, catalog: None
) -> None:
    """A priority the catalog item has no target for gives no SLA dues, so no automatic triage."""
    request = submit_request(
        session, submission(impact="low", urgency="low"), geocoder=NoGeocoder(), now=NOW
    )

    assert request.priority == Priority.LOW
    assert (request.sla_response_due, request.sla_resolution_due) == (None, None)
    [job] = request.jobs
    assert (job.status, job.sla_due) == (JobStatus.NEW, None)
    assert triage_gaps(job) == ["catalog item BOILER-REPAIR has no SLA target at low priority"]


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        (H, H, Priority.EMERGENCY),
        (H, M, Priority.HIGH),
        (M, H, Priority.HIGH),
        (H, L, Priority.NORMAL),
        (M, M, Priority.NORMAL),
        (L, H, Priority.NORMAL),
        (M, L, Priority.LOW),
        (L, M, Priority.LOW),
        (L, L, Priority.LOW),
    ],
)
def test_priority_matrix(impact: Level, urgency: Level, priority: Priority) -> None:
    """Impact and urgency map to priority as in the ITIL matrix."""
    assert priority_for(impact, urgency) == priority


def test_address_is_geocoded_once_then_served_from_cache(
    sessions: sessionmaker[Session], catalog: None, server: FakeNominatim
) -> None:
    """The real geopy client resolves the address; a later request with it needs no lookup."""
    site = {"address": ADDRESS}
    with sessions() as session:
        geocoder = CachedGeocoder(session, nominatim(server))
        first = submit_request(session, submission(site=site), geocoder=geocoder, now=NOW)
        session.commit()

    assert (first.site.latitude, first.site.longitude) == (59.9127, 10.7461)
    assert first.site.address == ADDRESS
    assert [r.query for r in server.requests] == [ADDRESS]

    with sessions() as session:
        geocoder = CachedGeocoder(session, nominatim(server))
        again = {"address": "  storgata 1,   OSLO "}
        second = submit_request(session, submission(site=again), geocoder=geocoder, now=NOW)
        session.commit()

    assert (second.site.latitude, second.site.longitude) == (59.9127, 10.7461)
    assert server.request_count == 1


def test_coordinates_win_over_address(session: Session, catalog: None) -> None:
    """With both an address and coordinates, the coordinates are kept and nothing is looked up."""
    site = {"address": ADDRESS, "latitude": 60.0, "longitude": 11.0}
    request = submit_request(session, submission(site=site), geocoder=NoGeocoder(), now=NOW)

    assert (request.site.latitude, request.site.longitude, request.site.address) == (
        60.0,
        11.0,
        ADDRESS,
    )


def test_every_problem_is_reported_at_once_and_nothing_written(
    session: Session, catalog: None
) -> None:
    """Field errors and the unknown catalog code come in one IntakeError, and no row is written."""
    data = submission(
        requester={"email": "not-an-email"},
        site={"latitude": 200, "longitude": 10.75},
        catalog_code="NO-SUCH-THING",
        window_start="2026-03-03T12:00:00+01:00",
        window_end="2026-03-03T08:00:00+01:00",
    )

    with pytest.raises(IntakeError) as refused:
        submit_request(session, data, geocoder=NoGeocoder(), now=NOW)

    messages = {e.field: e.message for e in refused.value.errors}
    assert set(messages) == {
        "requester.name",
        "requester.email",
        "site.latitude",
        "catalog_code",
        "window_end",
    }
    assert len(refused.value.errors) == 5
    assert "NO-SUCH-THING" in messages["catalog_code"]
    assert "after window_start" in messages["window_end"]
    session.flush()
    written = ("service_requests", "sites", "jobs", "customers", "events", "reference_counters")
    for table in written:
        assert count(session, table) == 0, table


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (submission(catalog_code="FAX-REPAIR"), "catalog_code", "no longer offered"),
        (submission(site={"longitude": 10.75}), "site", "both latitude and longitude"),
        (submission(site={"access_notes": "gate"}), "site", "an address, or latitude"),
        (submission(surprise="field"), "surprise", "not permitted"),
        (submission(impact="huge"), "impact", "high"),
    ],
    ids=["inactive-item", "half-coordinates", "no-location", "extra-field", "bad-level"],
)
def test_single_problem_names_its_field(
    session: Session, catalog: None, data: dict[str, Any], field: str, message: str
) -> None:
    """Each kind of problem is reported on the field it concerns."""
    with pytest.raises(IntakeError) as refused:
        submit_request(session, data, geocoder=NoGeocoder(), now=NOW)

    [error] = refused.value.errors
    assert error.field == field
    assert message in error.message


@pytest.mark.parametrize(
    ("fail_status", "address", "message"),
    [(None, "1 Nowhere Lane, Atlantis", "not found"), (503, ADDRESS, "try again later")],
    ids=["not-found", "service-down"],
)
def test_address_problem_is_a_field_error_and_nothing_written(
    session: Session,
    catalog: None,
    server: FakeNominatim,
    fail_status: int | None,
    address: str,
    message: str,
) -> None:
    """An unknown address or a failing geocoder is reported on site.address; no row is written."""
    server.fail_status = fail_status
    geocoder = CachedGeocoder(session, nominatim(server))

    with pytest.raises(IntakeError) as refused:
        submit_request(session, submission(site={"address": address}), geocoder=geocoder, now=NOW)

    [error] = refused.value.errors
    assert error.field == "site.address"
    assert message in error.message
    assert server.request_count == 1
    session.flush()
    for table in ("service_requests", "sites", "jobs", "customers", "events", "geocode_cache"):
        assert count(session, table) == 0, table


def test_triage_confirms_new_job_and_recomputes_priority(session: Session, catalog: None) -> None:
    """Triage moves new -> triaged with the priority and SLA dues of the corrected assessment."""
    request = submit_request(
        session, submission(impact="low", urgency="medium"), geocoder=NoGeocoder(), now=NOW
    )
    session.commit()
    [job] = request.jobs
    assert job.priority == Priority.LOW

    triage(session, job, impact=H, urgency=H)
    session.commit()

    assert job.status == JobStatus.TRIAGED
    assert job.priority == request.priority == Priority.EMERGENCY
    assert (request.impact, request.urgency) == (H, H)
    assert request.sla_response_due == NOW + timedelta(minutes=60)
    assert request.sla_resolution_due == job.sla_due == NOW + timedelta(minutes=240)
    statuses = [
        e.changes["status"]
        for e in session.scalars(
            select(Event).where(Event.entity_type == "jobs").order_by(Event.id)
        )
        if "status" in e.changes
    ]
    assert statuses == [[None, "new"], ["new", "triaged"]]


def test_triage_to_item_needing_approval_waits_for_approval(
    session: Session, catalog: None
) -> None:
    """A new item needing approval gives the job its fields and leaves it awaiting approval."""
    survey = submission(catalog_code="SITE-SURVEY")
    request = submit_request(session, survey, geocoder=NoGeocoder(), now=NOW)
    [job] = request.jobs
    assert job.status == JobStatus.NEW, "a survey is triaged by hand"

    triage(session, job, catalog_code="HEATPUMP-INSTALL")
    session.commit()

    assert job.status == JobStatus.AWAITING_APPROVAL
    assert request.catalog_item is not None and request.catalog_item.code == "HEATPUMP-INSTALL"
    assert (job.title, job.duration_min) == ("Heat pump installation", 300)
    assert request.title == "Heat pump installation"
    assert job.required_skills == ["heat-pump"]
    assert [(p.sku, p.quantity) for p in job.parts] == [("HP-BRKT", 1)]
    assert job.priority == Priority.HIGH  # impact and urgency kept
    assert request.sla_resolution_due == job.sla_due == NOW + timedelta(minutes=10080)
    assert count(session, "job_parts") == 1


@pytest.mark.parametrize("code", ["NO-SUCH-THING", "BOILER\x00REPAIR", "C" * 41])
def test_triage_refuses_unknown_item_and_changes_nothing(
    session: Session, catalog: None, code: str
) -> None:
    """An unknown or malformed catalog code is a field error; the job stays new and unchanged."""
    survey = submission(catalog_code="SITE-SURVEY")
    request = submit_request(session, survey, geocoder=NoGeocoder(), now=NOW)
    [job] = request.jobs

    with pytest.raises(IntakeError) as refused:
        triage(session, job, catalog_code=code, impact=H)

    assert [e.field for e in refused.value.errors] == ["catalog_code"]
    assert (job.status, job.priority, job.duration_min) == (JobStatus.NEW, Priority.HIGH, 90)
    assert request.impact == M
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 1


def test_triage_refuses_job_that_is_not_new(session: Session, catalog: None) -> None:
    """A job triaged at intake cannot be triaged again, and its priority is left alone."""
    request = submit_request(session, submission(), geocoder=NoGeocoder(), now=NOW)
    [job] = request.jobs

    with pytest.raises(TransitionRefused, match="only new jobs"):
        triage(session, job, impact=L, urgency=L)

    assert (job.status, job.priority) == (JobStatus.TRIAGED, Priority.HIGH)


def test_empty_catalog_says_how_to_import_one(session: Session) -> None:
    """With no catalog at all, an unknown code comes with the command that imports a catalog."""
    with pytest.raises(IntakeError) as refused:
        submit_request(session, submission(), geocoder=NoGeocoder(), now=NOW)

    [error] = refused.value.errors
    assert error.field == "catalog_code"
    assert "fieldops import-catalog" in error.message


def test_unknown_code_in_a_filled_catalog_gives_no_import_hint(
    session: Session, catalog: None
) -> None:
    """The import hint is for an empty catalog only; otherwise the code is simply unknown."""
    with pytest.raises(IntakeError) as refused:
        submit_request(session, submission(catalog_code="NOPE"), geocoder=NoGeocoder(), now=NOW)

    [error] = refused.value.errors
    assert "'NOPE'" in error.message and "import-catalog" not in error.message


@pytest.mark.parametrize(
    "imported_id",
    ["SR-2026-000001-1", "2026-000001", "SR-2026-000001", "SR-2026-000001-1-F1"],
    ids=["job-reference", "bare-number", "request-reference", "follow-up"],
)
def test_number_used_by_an_imported_job_is_skipped(
    sessions: sessionmaker[Session], catalog: None, imported_id: str
) -> None:
    """A job imported under an id shaped like the next reference does not block intake."""
    with sessions() as importing:
        # What the scenario importer writes: request ``SR-<id>``, job ``<id>``.
        make_job(importing, reference=imported_id)
        importing.commit()

    with sessions() as session:
        first = submit_request(session, submission(), geocoder=NoGeocoder(), now=NOW)
        session.commit()
        second = submit_request(session, submission(), geocoder=NoGeocoder(), now=NOW)
        session.commit()

        assert (first.reference, first.jobs[0].reference) == ("SR-2026-000002", "SR-2026-000002-1")
        assert second.reference == "SR-2026-000003"


LIMITS = [
    ({"requester": {"name": "n" * 201}}, "requester.name"),
    ({"requester": {"name": "Kari", "phone": "1" * 41}}, "requester.phone"),
    (
        {"requester": {"name": "Kari", "email": f"{'k' * 64}@{'e' * 180}.{'x' * 20}.com"}},
        "requester.email",
    ),
    ({"customer_name": "c" * 201}, "customer_name"),
    ({"title": "t" * 201}, "title"),
    ({"description": "d" * 4001}, "description"),
    ({"catalog_code": "C" * 41}, "catalog_code"),
    ({"site": {"address": "a" * 201, "latitude": 59.9, "longitude": 10.7}}, "site.address"),
    (
        {"site": {"latitude": 59.9, "longitude": 10.7, "access_notes": "g" * 4001}},
        "site.access_notes",
    ),
    (
        {"site": {"latitude": 59.9, "longitude": 10.7, "contact_name": "o" * 201}},
        "site.contact_name",
    ),
    ({"requester_user_id": 2**31}, "requester_user_id"),
]


@pytest.mark.parametrize(("changes", "field"), LIMITS, ids=[field for _, field in LIMITS])
def test_value_beyond_its_limit_is_refused_and_nothing_written(
    session: Session, catalog: None, changes: dict[str, Any], field: str
) -> None:
    """Text longer than its column (or 4,000 characters) and integers beyond PostgreSQL's
    ``integer`` are field errors on both databases, before anything is written."""
    with pytest.raises(IntakeError) as refused:
        submit_request(session, submission(**changes), geocoder=NoGeocoder(), now=NOW)

    assert [e.field for e in refused.value.errors] == [field]
    session.flush()
    for table in ("service_requests", "sites", "jobs", "customers", "reference_counters"):
        assert count(session, table) == 0, table


def test_values_at_their_limits_are_stored_whole(session: Session, catalog: None) -> None:
    """Names as wide as their columns and a 4,000-character description fit on both databases."""
    data = submission(
        requester={"name": "n" * 200, "phone": "1" * 40},
        customer_name="c" * 200,
        title="t" * 200,
        description="d" * 4000,
        site={
            "address": "a" * 200,
            "latitude": 59.9,
            "longitude": 10.7,
            "contact_name": "o" * 200,
        },
    )

    request = submit_request(session, data, geocoder=NoGeocoder(), now=NOW)
    session.commit()
    session.expire_all()

    assert len(request.requester_name) == 200 and len(request.description) == 4000
    assert len(request.title) == 200 and len(request.site.name) == 200


NUL_FIELDS = [
    ({"requester": {"name": "Ka\x00ri"}}, "requester.name"),
    ({"customer_name": "Nord\x00mann"}, "customer_name"),
    ({"title": "Boiler\x00"}, "title"),
    ({"description": "No hot\x00water"}, "description"),
    ({"catalog_code": "BOILER\x00REPAIR"}, "catalog_code"),
    ({"site": {"address": "Storgata\x001", "latitude": 59.9, "longitude": 10.7}}, "site.address"),
    (
        {"site": {"latitude": 59.9, "longitude": 10.7, "access_notes": "gate\x00"}},
        "site.access_notes",
    ),
    (
        {"site": {"latitude": 59.9, "longitude": 10.7, "contact_phone": "+47\x00"}},
        "site.contact_phone",
    ),
]


@pytest.mark.parametrize(("changes", "field"), NUL_FIELDS, ids=[field for _, field in NUL_FIELDS])
def test_nul_character_is_refused_and_nothing_written(
    session: Session, catalog: None, changes: dict[str, Any], field: str
) -> None:
    """A NUL byte in any text field is a field error (PostgreSQL could not store it)."""
    with pytest.raises(IntakeError) as refused:
        submit_request(session, submission(**changes), geocoder=NoGeocoder(), now=NOW)

    [error] = refused.value.errors
    assert (error.field, error.message) == (field, "must not contain NUL characters")
    session.flush()
    for table in ("service_requests", "sites", "jobs", "customers"):
        assert count(session, table) == 0, table


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"window_start": "0001-01-01T00:00:00+01:00"}, "window_start", "outside years 1 to 9999"),
        ({"window_end": "9999-12-31T23:59:00-01:00"}, "window_end", "outside years 1 to 9999"),
        ({"window_start": "2026-03-03T08:00:00"}, "window_start", "time zone offset"),
    ],
    ids=["before-year-1-in-utc", "after-year-9999-in-utc", "naive"],
)
def test_instant_not_representable_in_utc_is_a_field_error(
    session: Session, catalog: None, changes: dict[str, Any], field: str, message: str
) -> None:
    """Window times that exist locally but not in UTC, or carry no offset, are refused by name."""
    with pytest.raises(IntakeError) as refused:
        submit_request(session, submission(**changes), geocoder=NoGeocoder(), now=NOW)

    [error] = refused.value.errors
    assert error.field == field and message in error.message

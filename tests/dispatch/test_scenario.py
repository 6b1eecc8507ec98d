"""Tests for dispatch.scenario: importing, validating and exporting scenario days.

Every test runs on SQLite and on PostgreSQL (see the ``session`` fixture).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import JobStatus
from dispatch.models import DayOff, Job, ServiceDay, Technician
from dispatch.scenario import ImportSummary, ScenarioError, export_scenario, import_scenario
from dispatch.schema import TARGET_METADATA
from inventory.models import LocationKind, Part, StockLocation

DAYS_DIR = Path(__file__).parent.parent / "data" / "fieldservice"

# Named rather than globbed, so a missing file fails instead of silently testing less.
DAYS = ["oslo-5x30", "stockholm-20x120", "madrid-100x600", "stockholm-200x1200"]


def load_day(name: str) -> dict[str, Any]:
    return json.loads((DAYS_DIR / f"{name}.json").read_text())


def row_counts(session: Session) -> dict[str, int]:
    """Rows per table of both domains, the event log included."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for metadata in TARGET_METADATA
        for table in metadata.sorted_tables
    }


def key_order(value: Any) -> Any:
    """The keys of every object in ``value``, in order: dict equality ignores the order."""
    if isinstance(value, dict):
        return [(key, key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [key_order(item) for item in value]
    return None


@pytest.mark.parametrize("name", DAYS)
def test_day_round_trips(session: Session, sessions: sessionmaker[Session], name: str) -> None:
    """A benchmark day imported, committed and exported from a new session is the same document."""
    document = load_day(name)
    summary = import_scenario(session, document)
    session.commit()
    assert summary == ImportSummary(
        parts=len(document["parts"]),
        warehouses=len(document["warehouses"]),
        technicians=len(document["technicians"]),
        jobs=len(document["jobs"]),
    )

    with sessions() as fresh:
        exported = export_scenario(fresh, date.fromisoformat(document["date"]))

    original = load_day(name)  # read again, in case the import changed the document it got
    assert exported == original
    assert key_order(exported) == key_order(original)


def test_import_stores_utc_instants_and_the_model_fields(session: Session) -> None:
    """Local window times become UTC instants, and the scenario's fields land on the models."""
    data = load_day("oslo-5x30")  # Europe/Oslo: UTC+1 on 2026-11-24
    data["technicians"][1]["end"] = {"lat": 59.91, "lon": 10.75}
    import_scenario(session, data)

    job = session.scalars(select(Job).where(Job.reference == "J-0004")).one()
    assert job.window_start == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert job.window_end == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert job.sla_due == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert job.request.reference == "SR-J-0004"
    assert job.request.sla_resolution_due == job.sla_due
    assert job.status == JobStatus.TRIAGED
    pinned = session.scalars(select(Job).where(Job.reference == "J-0020")).one()
    assert pinned.pinned_technician is not None and pinned.pinned_technician.code == "T-05"

    technicians = {t.code: t for t in session.scalars(select(Technician))}
    assert technicians["T-01"].end_latitude is None  # ends where it starts
    assert (technicians["T-02"].end_latitude, technicians["T-02"].end_longitude) == (59.91, 10.75)
    assert [(h.weekday, h.start_time, h.end_time) for h in technicians["T-02"].working_hours] == [
        (1, time(7, 0), time(15, 0))  # a Tuesday; no other weekday is invented
    ]
    van = session.scalars(
        select(StockLocation).where(StockLocation.technician_id == technicians["T-01"].id)
    ).one()
    assert (van.code, van.name, van.kind) == ("VAN-T-01", "Van of Sofia Chen", LocationKind.VAN)


def test_invalid_scenario_lists_every_problem_and_writes_nothing(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A scenario with several bad fields raises one ScenarioError naming each of them."""
    data = load_day("oslo-5x30")
    data["timezone"] = "Mars/Base"
    data["technicians"][0]["shift"] = ["25:00", "16:00"]
    data["jobs"][2]["parts"] = {"XYZ": 1}
    data["jobs"][3]["duration_min"] = -5
    data["jobs"][7]["pinned_to"] = "T-99"

    with pytest.raises(ScenarioError) as caught:
        import_scenario(session, data)

    assert caught.value.problems == [
        "timezone: unknown time zone 'Mars/Base'",
        "technicians[0] (T-01).shift: '25:00' is not a HH:MM time",
        "jobs[2] (J-0003).parts: unknown part 'XYZ'",
        "jobs[3] (J-0004).duration_min: must be a positive integer, got -5",
        "jobs[7] (J-0008).pinned_to: unknown technician 'T-99'",
    ]
    session.commit()  # would write anything the failed import had left in the session
    with sessions() as fresh:
        for model in (Job, Technician, Part, ServiceDay):
            assert fresh.scalar(select(func.count()).select_from(model)) == 0


def test_reimporting_a_day_names_existing_jobs_and_writes_nothing(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Importing the same day twice reports every job id already stored and changes no row."""
    import_scenario(session, load_day("oslo-5x30"))
    session.commit()
    before = row_counts(session)

    with pytest.raises(ScenarioError) as caught:
        import_scenario(session, load_day("oslo-5x30"))

    assert caught.value.problems == [
        f"jobs[{i}] (J-{i + 1:04d}).id: job J-{i + 1:04d} already exists" for i in range(30)
    ]
    session.commit()
    with sessions() as fresh:
        # The event log counts too: any update, not only an insert, would add an event.
        assert row_counts(fresh) == before


def test_second_scenario_for_a_day_updates_shared_entities(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """New jobs for an imported day update the day, parts, warehouses and technicians in place."""
    first = load_day("oslo-5x30")
    import_scenario(session, first)
    session.commit()
    counts = row_counts(session)

    second = load_day("oslo-5x30")
    second["name"] = "oslo-afternoon"
    second["travel"]["speed_kmh"] = 25.0
    second["parts"][0]["name"] = "Gas valve 15 mm (brass)"
    second["warehouses"][0]["stock"] = {"FLT-2020": 3, "GAS-VLV-15": 1}
    technician = second["technicians"][1]
    technician["shift"] = ["10:00", "18:00"]
    technician["end"] = {"lat": 59.91, "lon": 10.75}
    del technician["break"]
    technician["van_stock"] = {"SEAL-KIT": 4}
    for job in second["jobs"]:
        job["id"] = job["id"].replace("J-", "K-")
    import_scenario(session, second)
    session.commit()

    with sessions() as fresh:
        exported = export_scenario(fresh, date.fromisoformat(second["date"]))
        after = row_counts(fresh)

    assert {key: exported[key] for key in second if key != "jobs"} == {
        key: second[key] for key in second if key != "jobs"
    }
    assert exported["jobs"] == first["jobs"] + second["jobs"]
    for table in ("service_days", "parts", "technicians", "working_hours", "stock_locations"):
        assert after[table] == counts[table], table


def test_export_leaves_out_technicians_off_and_completed_jobs(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A technician with a day off on the date and a completed job are not exported."""
    data = load_day("oslo-5x30")
    day = date.fromisoformat(data["date"])
    import_scenario(session, data)
    technician = session.scalars(select(Technician).where(Technician.code == "T-02")).one()
    session.add(DayOff(technician=technician, day=day, reason="training"))
    job = session.scalars(select(Job).where(Job.reference == "J-0005")).one()
    job.status = JobStatus.COMPLETED  # set directly: the lifecycle path is not under test
    session.commit()

    with sessions() as fresh:
        exported = export_scenario(fresh, day)

    assert [t["id"] for t in exported["technicians"]] == ["T-01", "T-03", "T-04", "T-05"]
    assert [j["id"] for j in exported["jobs"]] == [
        j["id"] for j in data["jobs"] if j["id"] != "J-0005"
    ]


def test_export_of_a_day_without_service_day_raises(session: Session) -> None:
    """Exporting a date no scenario was imported for raises ScenarioError."""
    import_scenario(session, load_day("oslo-5x30"))  # 2026-11-24, not the day asked for

    with pytest.raises(ScenarioError) as caught:
        export_scenario(session, date(2026, 11, 25))

    assert caught.value.problems == ["date: no service day on 2026-11-25"]

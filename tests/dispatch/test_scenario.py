"""Tests for dispatch.scenario: importing, validating and exporting scenario days.

Every test runs on SQLite and on PostgreSQL (see the ``session`` fixture).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import JobStatus
from dispatch.models import DayOff, Job, Technician
from dispatch.scenario import (
    DayExists,
    ImportSummary,
    ScenarioError,
    export_scenario,
    import_scenario,
)
from dispatch.schema import TARGET_METADATA
from inventory.models import LocationKind, StockLocation
from optimizer import InvalidProblem, scenario_problem

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
        "technicians[0] (T-01).shift[0]: '25:00' is not a HH:MM time",
        "jobs[2] (J-0003).parts: unknown part 'XYZ'",
        "jobs[3] (J-0004).duration_min: must be a whole number from 1 to 2147483647, got -5",
        "jobs[7] (J-0008).pinned_to: unknown technician 'T-99'",
    ]
    assert_nothing_written(sessions)


def assert_nothing_written(sessions: sessionmaker[Session]) -> None:
    """No row in any table, the event log included (checked from a new session)."""
    with sessions() as fresh:
        assert {table: n for table, n in row_counts(fresh).items() if n} == {}


Edit = Callable[[dict[str, Any]], None]


def without(section: str, key: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        del data[section][0][key]

    return edit


def setting(path: tuple[str | int, ...], value: Any) -> Edit:
    """An edit setting the field at ``path`` (keys and list indexes) to ``value``."""

    def edit(data: dict[str, Any]) -> None:
        target: Any = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return edit


def renamed_technician(data: dict[str, Any], code: str) -> None:
    """Give T-05 (the technician J-0020 is pinned to) another id, keeping the pin."""
    data["technicians"][4]["id"] = code
    data["jobs"][19]["pinned_to"] = code


#: Documents the two former readers disagreed on, and what both paths now say.
DISAGREEMENTS: list[tuple[str, Edit, str]] = [
    ("compact date", setting(("date",), "20261124"), "date: must be a YYYY-MM-DD date"),
    ("warehouse without stock", without("warehouses", "stock"), "(WH-1).stock: is missing"),
    (
        "technician without van",
        without("technicians", "van_stock"),
        "(T-01).van_stock: is missing",
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(e, x) for _, e, x in DISAGREEMENTS],
    ids=[n for n, _, _ in DISAGREEMENTS],
)
def test_import_and_planner_refuse_the_same_documents(
    session: Session, sessions: sessionmaker[Session], edit: Edit, expected: str
) -> None:
    """A document the planner's reader refuses is refused by the import with the same problems."""
    data = load_day("oslo-5x30")
    edit(data)

    with pytest.raises(InvalidProblem) as planner:
        scenario_problem(data)
    with pytest.raises(ScenarioError) as importer:
        import_scenario(session, data)

    assert importer.value.problems == planner.value.problems
    assert len(planner.value.problems) == 1 and expected in planner.value.problems[0]
    assert_nothing_written(sessions)


HOSTILE: list[tuple[str, Edit, str]] = [
    (
        "NUL in a name",
        setting(("technicians", 1, "name"), "Ola\x00Nordmann"),
        "technicians[1] (T-02).name: contains a NUL character",
    ),
    (
        "NUL in a skill",
        setting(("jobs", 0, "skills"), ["gas\x00"]),
        "jobs[0] (J-0001).skills[0]: contains a NUL character",
    ),
    (
        "NUL in a part number",
        setting(("warehouses", 0, "stock"), {"FLT\x00": 1}),
        "warehouses[0] (WH-1).stock: part 'FLT\\x00' contains a NUL character",
    ),
    (
        "SLA due before year 1 in UTC",
        setting(("jobs", 0, "sla_due"), "0001-01-01T00:00:00+01:00"),
        "jobs[0] (J-0001).sla_due: '0001-01-01T00:00:00+01:00' is out of range once converted",
    ),
    (
        "SLA due after year 9999 in UTC",
        setting(("jobs", 0, "sla_due"), "9999-12-31T23:59:00-01:00"),
        "jobs[0] (J-0001).sla_due: '9999-12-31T23:59:00-01:00' is out of range once converted",
    ),
    (
        "day before year 1 in UTC",
        setting(("date",), "0001-01-01"),
        "date: 0001-01-01 is out of range once converted to UTC",
    ),
    (
        "day after year 9999 in UTC",
        lambda d: d.update(date="9999-12-31", timezone="America/New_York"),
        "date: 9999-12-31 is out of range once converted to UTC",
    ),
    (
        "duration beyond a 32-bit integer",
        setting(("jobs", 0, "duration_min"), 2**31),
        "jobs[0] (J-0001).duration_min: must be a whole number from 1 to 2147483647",
    ),
    (
        "fractional stock",
        setting(("technicians", 0, "van_stock"), {"FLT-2020": 1.5}),
        "technicians[0] (T-01).van_stock.FLT-2020: must be a whole number from 0",
    ),
    (
        "infinite speed",
        setting(("travel", "speed_kmh"), float("inf")),
        "travel.speed_kmh: must be a number from 1 to 1000, got inf",
    ),
    (
        "title longer than its column",
        setting(("jobs", 0, "title"), "x" * 201),
        "jobs[0] (J-0001).title: at most 200 characters, got 201",
    ),
    (
        "job id too long for its request reference",
        setting(("jobs", 0, "id"), "J" * 30),
        f"jobs[0] ({'J' * 30}).id: at most 29 characters (stored as SR-<id>, at most 32), got 30",
    ),
    (
        "technician id too long for its van code",
        lambda d: renamed_technician(d, "T" * 37),
        f"technicians[4] ({'T' * 37}).id: at most 36 characters (stored as VAN-<id>",
    ),
    (
        "technician name too long for its van's name",
        setting(("technicians", 0, "name"), "N" * 201),
        "technicians[0] (T-01).name: at most 193 characters (stored as Van of <name>, at most 200)",
    ),
    (
        "job id too long for both of its columns",
        setting(("jobs", 0, "id"), "J" * 41),
        f"jobs[0] ({'J' * 39}…).id: at most 29 characters (stored as SR-<id>, at most 32), got 41",
    ),
    (
        "warehouse named like a van",
        setting(("warehouses", 0, "id"), "VAN-T-01"),
        "warehouses[0] (VAN-T-01).id: VAN-… codes are reserved for technicians' vans",
    ),
    (
        "job id intake will hand out",
        setting(("jobs", 0, "id"), "2026-000042"),
        "jobs[0] (2026-000042).id: has the shape of a service-request reference",
    ),
    (
        "skill no catalog can name",
        setting(("jobs", 0, "skills"), ["Gas Safe"]),
        "jobs[0] (J-0001).skills: 'Gas Safe' is not a skill name",
    ),
    (
        "job id of an intake job",
        setting(("jobs", 0, "id"), "SR-2026-000042-1"),
        "jobs[0] (SR-2026-000042-1).id: has the shape of a service-request reference",
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in HOSTILE], ids=[n for n, _, _ in HOSTILE]
)
def test_hostile_field_is_refused_by_name_and_writes_nothing(
    session: Session, sessions: sessionmaker[Session], edit: Edit, expected: str
) -> None:
    """Values a database cannot store or would collide on are refused with one named problem."""
    data = load_day("oslo-5x30")
    edit(data)

    with pytest.raises(ScenarioError) as caught:
        import_scenario(session, data)

    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(expected), caught.value.problems
    session.commit()
    assert_nothing_written(sessions)


def test_values_at_the_column_limits_are_stored(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """The largest whole number, the longest title and the longest ids fit on both databases."""
    data = load_day("oslo-5x30")
    data["jobs"][0].update(id="J" * 29, title="x" * 200, duration_min=2**31 - 1)
    data["technicians"][0]["van_stock"] = {"FLT-2020": 2**31 - 1}
    renamed_technician(data, "T" * 36)

    import_scenario(session, data)
    session.commit()

    with sessions() as fresh:
        assert export_scenario(fresh, date(2026, 11, 24)) == data


def test_warehouse_taking_a_stored_van_code_is_refused(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A technician whose van code is a stored warehouse's code is refused, not an IntegrityError."""
    session.add(
        StockLocation(
            code="VAN-T-03",
            kind=LocationKind.WAREHOUSE,
            name="Legacy depot",
            latitude=59.9,
            longitude=10.7,
            opens=time(7),
            closes=time(17),
            pickup_minutes=5,
        )
    )
    session.commit()
    before = row_counts(session)

    with pytest.raises(ScenarioError) as caught:
        import_scenario(session, load_day("oslo-5x30"))

    assert caught.value.problems == [
        "technicians[2] (T-03).id: its van's code VAN-T-03 belongs to another stock location"
    ]
    session.commit()
    with sessions() as fresh:
        assert row_counts(fresh) == before


def test_job_ids_stored_for_another_day_are_named(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Jobs of another day with the same ids are listed, one problem per job, and nothing changes."""
    import_scenario(session, load_day("oslo-5x30"))
    session.commit()
    before = row_counts(session)
    other_day = load_day("oslo-5x30")
    other_day["date"] = "2026-11-25"

    with pytest.raises(ScenarioError) as caught:
        import_scenario(session, other_day)

    assert caught.value.problems == [
        f"jobs[{i}] (J-{i + 1:04d}).id: job J-{i + 1:04d} already exists" for i in range(30)
    ]
    session.commit()
    with sessions() as fresh:
        # The event log counts too: any update, not only an insert, would add an event.
        assert row_counts(fresh) == before


def test_reimporting_a_day_is_refused_once_and_writes_nothing(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """Importing the same day twice without replace raises DayExists with a single problem."""
    import_scenario(session, load_day("oslo-5x30"))
    session.commit()
    before = row_counts(session)

    with pytest.raises(DayExists) as caught:
        import_scenario(session, load_day("oslo-5x30"))

    assert caught.value.problems == ["date: 2026-11-24 is imported already (30 imported jobs)"]
    assert (caught.value.day, caught.value.jobs) == (date(2026, 11, 24), 30)
    session.commit()
    with sessions() as fresh:
        assert row_counts(fresh) == before


def test_replace_swaps_the_days_jobs_and_updates_shared_entities(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """With replace, the day's imported jobs give way to the new ones; the rest is updated in place."""
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
    second["jobs"] = second["jobs"][:10] + [
        {**job, "id": job["id"].replace("J-", "K-")} for job in second["jobs"][10:25]
    ]
    summary = import_scenario(session, second, replace=True)
    session.commit()

    with sessions() as fresh:
        exported = export_scenario(fresh, date.fromisoformat(second["date"]))
        after = row_counts(fresh)

    assert summary.replaced_jobs == 30 and summary.jobs == 25
    assert exported == second
    for table in ("service_days", "parts", "technicians", "working_hours", "stock_locations"):
        assert after[table] == counts[table], table
    for table in ("jobs", "service_requests", "sites"):
        assert after[table] == 25, table


def test_replace_refuses_a_day_with_planned_jobs(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A day whose imported jobs are already planned is not replaced; the planned ones are named."""
    import_scenario(session, load_day("oslo-5x30"))
    job = session.scalars(select(Job).where(Job.reference == "J-0007")).one()
    job.status = JobStatus.SCHEDULED  # set directly: the lifecycle path is not under test
    session.commit()
    before = row_counts(session)

    with pytest.raises(ScenarioError) as caught:
        import_scenario(session, load_day("oslo-5x30"), replace=True)

    assert caught.value.problems == [
        (
            "date: job J-0007 of 2026-11-24 is scheduled:"
            " a day is replaced only while all its imported jobs are still triaged"
        )
    ]
    session.commit()
    with sessions() as fresh:
        assert row_counts(fresh) == before


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


def test_export_unpins_jobs_of_a_technician_off_that_day(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    """A job pinned to a technician who is off that day is exported without pinned_to."""
    data = load_day("oslo-5x30")
    day = date.fromisoformat(data["date"])
    import_scenario(session, data)
    technician = session.scalars(select(Technician).where(Technician.code == "T-05")).one()
    session.add(DayOff(technician=technician, day=day, reason="sick"))
    session.commit()

    with sessions() as fresh:
        exported = export_scenario(fresh, day)

    (pinned,) = [j for j in data["jobs"] if j["pinned_to"] == "T-05"]
    (entry,) = [j for j in exported["jobs"] if j["id"] == pinned["id"]]
    assert entry["pinned_to"] is None
    assert "T-05" not in [t["id"] for t in exported["technicians"]]
    scenario_problem(exported)  # the export is a document the planner reads


def test_export_of_a_day_without_service_day_raises(session: Session) -> None:
    """Exporting a date no scenario was imported for raises ScenarioError."""
    import_scenario(session, load_day("oslo-5x30"))  # 2026-11-24, not the day asked for

    with pytest.raises(ScenarioError) as caught:
        export_scenario(session, date(2026, 11, 25))

    assert caught.value.problems == ["date: no service day on 2026-11-25"]

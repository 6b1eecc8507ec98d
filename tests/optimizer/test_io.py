"""Reading scenarios and Solomon instances, and writing ``fieldops-plan/1`` documents."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from optimizer.check import check_plan_document
from optimizer.io import read_problem, scenario_problem, solomon_problem
from optimizer.plan_io import plan_document
from optimizer.problem import InvalidProblem, Location, Priority, Problem, TimeWindow
from optimizer.solution import Reason, Route, Solution, Stop, StopKind, Unassigned
from optimizer.travel import EuclideanTravel, GeodesicTravel
from tests.optimizer.conftest import SCENARIOS, SOLOMON, at, plan

Document = dict[str, Any]


def small_scenario() -> Document:
    """A valid two-technician, four-job scenario in FORMAT.md's shape."""
    place = {"lat": 59.93, "lon": 10.71}
    return {
        "format": "fieldops-scenario/1",
        "name": "mini",
        "date": "2026-11-24",
        "timezone": "Europe/Oslo",
        "travel": {"model": "geodesic", "speed_kmh": 32.0, "circuity": 1.35},
        "parts": [{"sku": "FLT-2020", "name": "Air filter"}, {"sku": "BELT-WM", "name": "Belt"}],
        "warehouses": [
            {
                "id": "WH-1",
                "name": "Central",
                "location": {"lat": 59.91, "lon": 10.75},
                "hours": ["07:00", "17:00"],
                "pickup_minutes": 10,
                "stock": {"FLT-2020": 40},
            },
        ],
        "technicians": [
            {
                "id": "T-01",
                "name": "Ingrid",
                "skills": ["hvac", "electrical"],
                "start": place,
                "end": {"lat": 59.94, "lon": 10.72},
                "shift": ["08:00", "16:00"],
                "break": {"earliest": "11:30", "latest": "13:00", "minutes": 30},
                "van_stock": {"FLT-2020": 2},
            },
            {
                "id": "T-02",
                "name": "Ola",
                "skills": ["plumbing"],
                "start": place,
                "end": place,
                "shift": ["07:15", "15:45"],
                "break": None,
                "van_stock": {},
            },
        ],
        "jobs": [
            {
                "id": "J-0001",
                "location": {"lat": 59.95, "lon": 10.78},
                "duration_min": 45,
                "skills": ["hvac"],
                "parts": {"FLT-2020": 1},
                "priority": "high",
                "window": ["09:00", "12:00"],
                "sla_due": "2026-11-24T14:00:00+01:00",
                "pinned_to": None,
            },
            {
                "id": "J-0002",
                "location": {"lat": 59.92, "lon": 10.76},
                "duration_min": 30,
                "skills": [],
                "parts": {},
                "priority": "low",
                "window": None,
                "sla_due": None,
                "pinned_to": "T-02",
            },
            {
                "id": "J-0003",
                "location": {"lat": 59.90, "lon": 10.79},
                "duration_min": 60,
                "skills": ["plumbing"],
                "parts": {},
                "priority": "emergency",
                "window": ["00:00", "23:59"],
                "sla_due": None,
                "pinned_to": None,
            },
            {
                "id": "J-0004",
                "location": {"lat": 59.89, "lon": 10.77},
                "duration_min": 20,
                "skills": ["electrical"],
                "parts": {"BELT-WM": 2},
                "priority": "normal",
                "window": None,
                "sla_due": "2026-11-24T12:30:00Z",
                "pinned_to": None,
            },
        ],
    }


def clock(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    return hours * 3600 + minutes * 60


# --- scenarios -------------------------------------------------------------------------------


def test_small_scenario_reads_every_field() -> None:
    """Each field of a scenario lands in the problem, clock times and minutes as seconds."""
    problem = scenario_problem(small_scenario())

    assert problem.name == "mini"
    assert (problem.date, problem.timezone, problem.ticks_per_minute) == (
        "2026-11-24",
        "Europe/Oslo",
        60,
    )
    assert problem.travel == GeodesicTravel(32.0, 1.35)
    (depot,) = problem.warehouses
    assert (depot.id, depot.hours.start, depot.hours.end) == ("WH-1", 7 * 3600, 17 * 3600)
    assert depot.pickup_service == 600 and dict(depot.stock) == {"FLT-2020": 40}
    assert depot.location == Location(59.91, 10.75)
    ingrid, ola = problem.technicians
    assert ingrid.skills == {"hvac", "electrical"}
    assert (ingrid.start, ingrid.end) == (Location(59.93, 10.71), Location(59.94, 10.72))
    assert (ingrid.shift.start, ingrid.shift.end) == (8 * 3600, 16 * 3600)
    assert ingrid.break_rule is not None
    assert (ingrid.break_rule.window.start, ingrid.break_rule.window.end) == (
        11 * 3600 + 1800,
        13 * 3600,
    )
    assert ingrid.break_rule.duration == 1800
    assert dict(ingrid.van_stock) == {"FLT-2020": 2}
    assert (ola.shift.start, ola.shift.end, ola.break_rule) == (
        7 * 3600 + 900,
        15 * 3600 + 2700,
        None,
    )
    first, second, third, fourth = problem.jobs
    assert (first.service, first.priority, first.skills) == (2700, Priority.HIGH, {"hvac"})
    assert first.window == TimeWindow(9 * 3600, 12 * 3600)
    assert first.sla_due == 14 * 3600
    assert dict(first.parts) == {"FLT-2020": 1}
    assert (second.window, second.sla_due, second.pinned_to) == (None, None, "T-02")
    assert second.priority == Priority.LOW
    assert third.window == TimeWindow(0, 23 * 3600 + 59 * 60)
    assert fourth.sla_due == 13 * 3600 + 1800  # 12:30 UTC is 13:30 in Oslo in November
    assert dict(fourth.parts) == {"BELT-WM": 2}


@pytest.mark.parametrize(
    ("date", "zone", "due", "seconds"),
    [
        ("2026-11-24", "Europe/Oslo", "2026-11-24T14:00:00+01:00", 14 * 3600),
        ("2026-11-24", "Europe/Oslo", "2026-11-24T13:00:00+00:00", 14 * 3600),
        ("2026-11-24", "Europe/Oslo", "2026-11-24T13:00:00Z", 14 * 3600),
        ("2026-11-24", "Europe/Oslo", "2026-11-24T08:00:00-05:00", 14 * 3600),
        ("2026-11-24", "Europe/Oslo", "2026-11-25T09:00:00+01:00", 33 * 3600),
        ("2026-07-01", "Europe/Oslo", "2026-07-01T14:00:00+02:00", 14 * 3600),
        ("2026-07-01", "Europe/Oslo", "2026-07-01T12:00:00Z", 14 * 3600),
        ("2026-11-24", "America/New_York", "2026-11-24T14:00:00Z", 9 * 3600),
        ("2026-11-24", "Asia/Kolkata", "2026-11-24T10:00:00+05:30", 10 * 3600),
    ],
)
def test_sla_due_is_read_in_the_scenarios_time_zone(
    date: str, zone: str, due: str, seconds: int
) -> None:
    """An instant, whatever its offset, becomes local wall-clock seconds since midnight."""
    document = small_scenario()
    document["date"], document["timezone"] = date, zone
    document["jobs"][0]["sla_due"] = due

    problem = scenario_problem(document)

    assert problem.jobs[0].sla_due == seconds


def test_shipped_scenario_matches_its_file() -> None:
    """oslo-5x30 as read agrees field by field with its JSON, clock times as seconds."""
    raw = json.loads((SCENARIOS / "oslo-5x30.json").read_text())

    problem = read_problem(SCENARIOS / "oslo-5x30.json")

    assert problem.name == raw["name"] == "oslo-5x30"
    assert [t.id for t in problem.technicians] == [t["id"] for t in raw["technicians"]]
    for tech, entry in zip(problem.technicians, raw["technicians"], strict=True):
        assert (tech.shift.start, tech.shift.end) == tuple(clock(c) for c in entry["shift"])
        assert tech.skills == set(entry["skills"])
        assert dict(tech.van_stock) == entry["van_stock"]
        rule = entry["break"]
        assert tech.break_rule is not None
        assert tech.break_rule.window.start == clock(rule["earliest"])
        assert tech.break_rule.duration == rule["minutes"] * 60
    assert [j.id for j in problem.jobs] == [j["id"] for j in raw["jobs"]]
    for one, entry in zip(problem.jobs, raw["jobs"], strict=True):
        assert one.service == entry["duration_min"] * 60
        assert one.priority == Priority(entry["priority"])
        assert one.location == Location(entry["location"]["lat"], entry["location"]["lon"])
        assert dict(one.parts) == entry["parts"]
        assert one.pinned_to == entry["pinned_to"]
        if entry["window"] is None:
            assert one.window is None
        else:
            assert one.window == TimeWindow(*(clock(c) for c in entry["window"]))
        if entry["sla_due"] is None:
            assert one.sla_due is None
        else:
            # The file states its instants at Oslo's winter offset, +01:00.
            assert entry["sla_due"].startswith("2026-11-24T") and entry["sla_due"].endswith(
                "+01:00"
            )
            assert one.sla_due == clock(entry["sla_due"][11:16])


# --- malformed scenarios ---------------------------------------------------------------------

Edit = Callable[[Document], None]


def set_job(index: int, field: str, value: Any) -> Edit:
    return lambda document: document["jobs"][index].__setitem__(field, value)


MALFORMED: list[tuple[str, Edit, list[str]]] = [
    (
        "negative duration",
        set_job(0, "duration_min", -15),
        ["jobs[0] (J-0001).duration_min", "-15"],
    ),
    ("zero duration", set_job(1, "duration_min", 0), ["jobs[1] (J-0002).duration_min"]),
    (
        "bad clock",
        set_job(1, "window", ["9:00", "12:00"]),
        ["jobs[1] (J-0002).window[0]", "'9:00'"],
    ),
    (
        "hour 24",
        set_job(0, "window", ["09:00", "24:00"]),
        ["jobs[0] (J-0001).window[1]", "'24:00'"],
    ),
    (
        "pinned to unknown technician",
        set_job(2, "pinned_to", "T-99"),
        ["jobs[2] (J-0003).pinned_to", "'T-99'"],
    ),
    ("unknown part", set_job(3, "parts", {"NOPE-1": 1}), ["jobs[3] (J-0004).parts", "'NOPE-1'"]),
    (
        "bad time zone",
        lambda d: d.__setitem__("timezone", "Europe/Atlantis"),
        ["timezone", "'Europe/Atlantis'"],
    ),
    ("bad priority", set_job(2, "priority", "urgent"), ["jobs[2] (J-0003).priority", "'urgent'"]),
    (
        "sla without offset",
        set_job(0, "sla_due", "2026-11-24T14:00:00"),
        ["jobs[0] (J-0001).sla_due"],
    ),
    (
        "technician shift",
        lambda d: d["technicians"][1].__setitem__("shift", ["07:15", "7pm"]),
        ["technicians[1] (T-02).shift[1]", "'7pm'"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in MALFORMED], ids=[name for name, _, _ in MALFORMED]
)
def test_one_malformed_field_is_named(edit: Edit, expected: list[str]) -> None:
    """A single bad field raises InvalidProblem with one message naming the entity and field."""
    document = small_scenario()
    edit(document)

    with pytest.raises(InvalidProblem) as caught:
        scenario_problem(document)

    matching = [p for p in caught.value.problems if expected[0] in p]
    assert len(matching) == 1, caught.value.problems
    assert all(text in matching[0] for text in expected)


def test_every_malformed_field_is_listed_at_once() -> None:
    """A scenario with several bad jobs and a bad zone lists each job and field in one error."""
    document = small_scenario()
    for _, edit, _ in MALFORMED[:7]:
        edit(document)

    with pytest.raises(InvalidProblem) as caught:
        scenario_problem(document)

    problems = caught.value.problems
    for _, _, expected in MALFORMED[:7]:
        assert any(expected[0] in p for p in problems), (expected, problems)
    assert str(caught.value) == "; ".join(problems)


STRICT: list[tuple[str, Edit, str]] = [
    ("compact date", lambda d: d.__setitem__("date", "20261124"), "date: must be a YYYY-MM-DD"),
    (
        "warehouse without stock",
        lambda d: d["warehouses"][0].pop("stock"),
        "warehouses[0] (WH-1).stock: is missing",
    ),
    (
        "technician without van stock",
        lambda d: d["technicians"][0].pop("van_stock"),
        "technicians[0] (T-01).van_stock: is missing",
    ),
    (
        "job without skills",
        lambda d: d["jobs"][1].pop("skills"),
        "jobs[1] (J-0002).skills: is missing",
    ),
    (
        "misspelt field",
        lambda d: d["technicians"][1].__setitem__("van_stok", {}),
        "technicians[1] (T-02).van_stok: is not a field here",
    ),
    (
        "NUL in an id",
        lambda d: d["jobs"][2].__setitem__("id", "J-\x00"),
        "jobs[2].id: contains a NUL character",
    ),
    (
        "time zone that is a folder of zones",
        lambda d: d.__setitem__("timezone", "Europe"),
        "timezone: unknown time zone 'Europe'",
    ),
    (
        "time zone name too long for a file name",
        lambda d: d.__setitem__("timezone", "Z" * 300),
        "timezone: unknown time zone 'ZZZ",
    ),
    (
        "NUL in a time zone",
        lambda d: d.__setitem__("timezone", "Europe/Oslo\x00"),
        "timezone: contains a NUL character",
    ),
    (
        "SLA due before year 1 in UTC",
        set_job(0, "sla_due", "0001-01-01T00:00:00+01:00"),
        "jobs[0] (J-0001).sla_due: '0001-01-01T00:00:00+01:00' is out of range once converted",
    ),
    (
        "SLA due after year 9999 in UTC",
        set_job(0, "sla_due", "9999-12-31T23:59:00-01:00"),
        "jobs[0] (J-0001).sla_due: '9999-12-31T23:59:00-01:00' is out of range once converted",
    ),
    (
        "day that starts before year 1 in UTC",
        lambda d: d.__setitem__("date", "0001-01-01"),
        "date: 0001-01-01 is out of range once converted to UTC",
    ),
    (
        "huge quantity",
        lambda d: d["warehouses"][0].__setitem__("stock", {"FLT-2020": 10**30}),
        "warehouses[0] (WH-1).stock.FLT-2020: must be a whole number from 0 to 2147483647",
    ),
    (
        "fractional minutes",
        set_job(0, "duration_min", 45.5),
        "jobs[0] (J-0001).duration_min: must be a whole number",
    ),
    (
        "true as a number",
        lambda d: d["warehouses"][0].__setitem__("pickup_minutes", True),
        "warehouses[0] (WH-1).pickup_minutes: must be a whole number",
    ),
    (
        "not-a-number latitude",
        set_job(3, "location", {"lat": float("nan"), "lon": 10.77}),
        "jobs[3] (J-0004).location.lat: must be a number from -90 to 90, got nan",
    ),
    (
        "integer too large for a float",
        set_job(3, "location", {"lat": 59.89, "lon": 10**400}),
        "jobs[3] (J-0004).location.lon: must be a number from -180 to 180",
    ),
    (
        "circuity beyond the plausible",
        lambda d: d["travel"].__setitem__("circuity", 1e300),
        "travel.circuity: must be a number from 1 to 10",
    ),
    (
        "pin that is not an id",
        set_job(1, "pinned_to", ["T-02"]),
        "jobs[1] (J-0002).pinned_to: unknown technician ['T-02']",
    ),
    (
        "duplicate job id",
        lambda d: d["jobs"][3].__setitem__("id", "J-0001"),
        "jobs[3] (J-0001).id: used twice (also jobs[0] (J-0001))",
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in STRICT], ids=[name for name, _, _ in STRICT]
)
def test_reader_is_strict(edit: Edit, expected: str) -> None:
    """Each departure from the format is one problem naming the field, never an exception."""
    document = small_scenario()
    edit(document)

    with pytest.raises(InvalidProblem) as caught:
        scenario_problem(document)

    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(expected), caught.value.problems


def test_huge_values_are_shown_shortened() -> None:
    """A megabyte of wrong value or of unknown key yields messages of a line each."""
    document = small_scenario()
    document["jobs"][0]["priority"] = "x" * 1_000_000
    document["jobs"][1]["y" * 1_000_000] = 1

    with pytest.raises(InvalidProblem) as caught:
        scenario_problem(document)

    assert [len(problem) < 300 for problem in caught.value.problems] == [True, True]
    assert caught.value.problems[0].startswith("jobs[0] (J-0001).priority: must be one of")


#: Values that have broken readers: wrong types, NUL, numbers beyond float or 32 bits,
#: instants and days at the ends of the calendar, odd zones, nesting.
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    -1,
    2**31,
    10**400,
    1.5,
    float("nan"),
    float("-inf"),
    "",
    "\x00",
    "x" * 1000,
    "25:00",
    "20261124",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:00-01:00",
    "Europe",
    "Etc/GMT-14",
    [],
    ["09:00", "08:00"],
    [[[[]]]],
    {},
    {"\x00": 1},
    {"lat": 91, "lon": 0},
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a JSON value, the value itself excluded."""
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return []
    return [
        path for key, child in items for path in [(*prefix, key), *_paths(child, (*prefix, key))]
    ]


def _holds(container: Any, key: Any) -> bool:
    """Whether ``container[key]`` exists (an earlier mutation may have replaced it)."""
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


def _mutate(document: Any, path: tuple[Any, ...], rng: random.Random) -> None:
    """Replace the value at ``path`` by a hostile one, or remove it from its object.

    Nothing happens when an earlier mutation already replaced something on the path.
    """
    parent = document
    for key in path[:-1]:
        if not _holds(parent, key):
            return
        parent = parent[key]
    if not _holds(parent, path[-1]):
        return
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(HOSTILE_VALUES)


def test_random_mutations_are_read_or_refused_never_raised() -> None:
    """Hundreds of documents with fields replaced or removed: a Problem or InvalidProblem."""
    original = json.loads((SCENARIOS / "oslo-5x30.json").read_text())
    paths = _paths(original)
    rng = random.Random(7)
    for _ in range(400):
        document = copy.deepcopy(original)
        for path in rng.sample(paths, 3):
            _mutate(document, path, rng)
        try:
            scenario_problem(document)
        except InvalidProblem as exc:
            assert exc.problems


def test_optional_fields_may_be_left_out() -> None:
    """A break, window, SLA due time, pin and title may be absent: the same as null or unset."""
    document = small_scenario()
    del document["technicians"][1]["break"]
    for job in document["jobs"]:
        for key in ("window", "sla_due", "pinned_to"):
            job.pop(key)

    problem = scenario_problem(document)

    assert problem.technicians[1].break_rule is None
    assert all((j.window, j.sla_due, j.pinned_to) == (None, None, None) for j in problem.jobs)


def test_documented_example_scenario_reads() -> None:
    """The scenario example in docs/FORMAT.md is a document the reader accepts."""
    text = (Path(__file__).parents[2] / "docs" / "FORMAT.md").read_text()
    example = text.split("```json\n", 1)[1].split("```", 1)[0]

    problem = scenario_problem(json.loads(example))

    assert (problem.name, len(problem.technicians), len(problem.jobs)) == ("oslo-morning", 1, 1)


def test_read_problem_refuses_json_nested_too_deeply(tmp_path: Path) -> None:
    """100,000 opening brackets are a named problem, not a RecursionError."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)

    with pytest.raises(InvalidProblem) as caught:
        read_problem(deep)

    assert caught.value.problems == ["deep.json: JSON nested too deeply"]


def test_read_problem_reports_a_file_that_is_not_json(tmp_path: Path) -> None:
    """A scenario file with broken JSON raises InvalidProblem naming the file."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "fieldops-scenario/1", "jobs": [')

    with pytest.raises(InvalidProblem) as caught:
        read_problem(broken)

    assert "broken.json" in str(caught.value)


def test_read_problem_reads_a_scenario_file(tmp_path: Path) -> None:
    """read_problem recognises a scenario by its content and gives what scenario_problem gives."""
    path = tmp_path / "day.txt"
    path.write_text(json.dumps(small_scenario()))

    assert read_problem(path) == scenario_problem(small_scenario())


# --- Solomon ----------------------------------------------------------------------------------


def solomon_rows(path: Path) -> tuple[tuple[int, int], list[list[int]]]:
    """(vehicles, capacity) and the customer rows of a Solomon file, read by hand."""
    lines = path.read_text().splitlines()
    fleet = next(i for i, line in enumerate(lines) if line.strip().startswith("NUMBER"))
    vehicles, capacity = (int(v) for v in lines[fleet + 1].split())
    rows = [
        [int(v) for v in line.split()]
        for line in lines[fleet + 2 :]
        if len(line.split()) == 7 and line.split()[0].isdigit()
    ]
    return (vehicles, capacity), rows


def test_solomon_instance_in_thousandths() -> None:
    """C101: coordinates as is, times and service x 1000, all jobs emergency, 25 technicians."""
    (vehicles, capacity), rows = solomon_rows(SOLOMON / "C101.txt")

    problem = read_problem(SOLOMON / "C101.txt")

    assert problem == solomon_problem(SOLOMON / "C101.txt")
    assert problem.name == "C101"
    assert problem.date is None and problem.timezone is None
    assert problem.ticks_per_minute == 1000
    assert problem.travel == EuclideanTravel(1000)
    depot = rows[0]
    assert len(problem.technicians) == vehicles == 25
    for tech in problem.technicians:
        assert tech.capacity == capacity == 200
        assert tech.start == tech.end == Location(depot[1], depot[2])
        assert (tech.shift.start, tech.shift.end) == (depot[4] * 1000, depot[5] * 1000)
    assert len(problem.jobs) == len(rows) - 1 == 100
    for one, (number, x, y, demand, ready, due, service) in zip(
        problem.jobs, rows[1:], strict=True
    ):
        assert one.id == str(number)
        assert one.location == Location(x, y)
        assert one.demand == demand
        assert one.window == TimeWindow(ready * 1000, due * 1000)
        assert one.service == service * 1000
        assert one.priority == Priority.EMERGENCY


# --- plan documents ---------------------------------------------------------------------------


def hand_plan(problem: Problem) -> Solution:
    """T-01 visits WH-1 and J-0001, with a break, and J-0002 is left out."""
    stops = (
        Stop(StopKind.WAREHOUSE, "WH-1", at("08:20"), at("08:20"), at("08:30"), {"FLT-2020": 1}),
        Stop(StopKind.JOB, "J-0001", at("08:50"), at("09:00"), at("09:45")),
        Stop(StopKind.BREAK, "", at("11:30"), at("11:30"), at("12:00")),
    )
    return Solution(
        (Route("T-01", at("08:00"), at("12:30"), stops),),
        (Unassigned("J-0002", Reason.NOT_ENOUGH_TIME, "Nobody has room."),),
    )


def test_plan_document_writes_local_instants() -> None:
    """Every time is an ISO instant at Oslo's offset whose wall clock is the stop's tick."""
    problem = scenario_problem(small_scenario())

    document = plan_document(problem, hand_plan(problem))

    assert document["format"] == "fieldops-plan/1"
    assert document["scenario"] == "mini"
    (route,) = document["routes"]
    assert route["technician"] == "T-01"
    assert route["depart"] == "2026-11-24T08:00:00+01:00"
    assert route["return"] == "2026-11-24T12:30:00+01:00"
    call, visit, lunch = route["stops"]
    assert call == {
        "type": "warehouse",
        "id": "WH-1",
        "arrival": "2026-11-24T08:20:00+01:00",
        "start": "2026-11-24T08:20:00+01:00",
        "end": "2026-11-24T08:30:00+01:00",
        "pickup": {"FLT-2020": 1},
    }
    assert visit["type"] == "job" and visit["id"] == "J-0001" and "pickup" not in visit
    assert visit["start"] == "2026-11-24T09:00:00+01:00"
    assert lunch["type"] == "break" and "id" not in lunch
    assert lunch["end"] == "2026-11-24T12:00:00+01:00"
    assert document["unassigned"] == [
        {"id": "J-0002", "code": "not_enough_time", "reason": "Nobody has room."}
    ]
    json.dumps(document)  # plain JSON types only


def test_plan_document_uses_the_offset_in_force_on_the_day() -> None:
    """On the spring-forward day, midnight is +01:00 and 09:00 is written at +02:00."""
    document = small_scenario()
    document["date"] = "2026-03-29"
    for one in document["jobs"]:
        one["sla_due"] = None
    problem = scenario_problem(document)
    stop = Stop(StopKind.JOB, "J-0003", at("09:00"), at("09:00"), at("10:00"))
    solution = Solution((Route("T-02", 0, at("11:00"), (stop,)),), ())

    written = plan_document(problem, solution)["routes"][0]

    assert written["depart"] == "2026-03-29T00:00:00+01:00"
    assert written["stops"][0]["start"] == "2026-03-29T09:00:00+02:00"
    assert written["return"] == "2026-03-29T11:00:00+02:00"


def test_solved_scenario_plan_reads_back_to_its_ticks() -> None:
    """Each instant of a solved oslo plan, read back as local wall-clock seconds, is its tick."""
    problem = read_problem(SCENARIOS / "oslo-5x30.json")
    solution = plan(problem)

    document = plan_document(problem, solution)

    midnight = datetime(2026, 11, 24)
    for route, written in zip(solution.routes, document["routes"], strict=True):
        assert written["technician"] == route.technician
        assert len(written["stops"]) == len(route.stops)
        for stop, entry in zip(route.stops, written["stops"], strict=True):
            for key in ("arrival", "start", "end"):
                moment = datetime.fromisoformat(entry[key])
                assert moment.utcoffset() == timedelta(hours=1)
                assert (moment.replace(tzinfo=None) - midnight).total_seconds() == getattr(
                    stop, key
                )
    assert [u["id"] for u in document["unassigned"]] == [u.job for u in solution.unassigned]
    assert check_plan_document(problem, document).violations == ()


def test_solomon_plan_document_writes_numbers() -> None:
    """A Solomon plan states its times as numbers in the instance's own units (ticks / 1000)."""
    problem = solomon_problem(SOLOMON / "C101.txt")
    solution = plan(problem)

    document = plan_document(problem, solution)

    for route, written in zip(solution.routes, document["routes"], strict=True):
        assert written["depart"] == route.depart / 1000
        for stop, entry in zip(route.stops, written["stops"], strict=True):
            assert isinstance(entry["start"], float)
            assert entry["start"] == stop.start / 1000
            assert entry["end"] - entry["start"] == pytest.approx(90.0)
    assert check_plan_document(problem, document).violations == ()


def test_plan_instant_out_of_range_is_a_format_violation() -> None:
    """A plan time that cannot be converted to the day's zone is named, not an OverflowError."""
    problem = scenario_problem(small_scenario())
    document = plan_document(problem, hand_plan(problem))
    document["routes"][0]["stops"][1]["start"] = "0001-01-01T00:00:00+01:00"

    (violation,) = check_plan_document(problem, document).violations

    assert violation.cause == "format"
    assert violation.message.startswith("routes[0].stops[1].start: '0001-01-01T00:00:00+01:00'")


@pytest.mark.parametrize("kind", ["service day", "Solomon"])
def test_random_mutations_of_a_plan_are_reported_never_raised(kind: str) -> None:
    """Plans with hostile values (NaN, 10**400, far instants...) give a report, not an exception."""
    if kind == "Solomon":
        problem = solomon_problem(SOLOMON / "C101.txt")
        stop = Stop(StopKind.JOB, "1", 100_000, 100_000, 190_000)
        solution = Solution((Route("1", 0, 1_000_000, (stop,)),), ())
    else:
        problem = scenario_problem(small_scenario())
        solution = hand_plan(problem)
    original = plan_document(problem, solution)
    paths = _paths(original)
    rng = random.Random(11)
    for _ in range(300):
        document = copy.deepcopy(original)
        for path in rng.sample(paths, 2):
            _mutate(document, path, rng)
        check_plan_document(problem, document)


def test_plan_document_is_for_the_problem_given() -> None:
    """The document names the problem it was written for, so another day's checker rejects it."""
    problem = scenario_problem(small_scenario())
    other = replace(problem, name="another-day")

    document = plan_document(problem, hand_plan(problem))

    assert {v.cause for v in check_plan_document(other, copy.deepcopy(document)).violations} == {
        "format"
    }

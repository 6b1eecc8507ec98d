"""``fieldops picklist``, ``picklist-confirm`` and ``reorder``: warehouse staff's commands on a
day planned and published (publishing reserves the jobs' parts where the routes get them)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.planning import build_problem, new_plan, publish
from inventory.replenishment import set_reorder_rule
from optimizer import SolveParams, solve
from web.cli import cli

DAY = "2026-11-24"
DEMO = Path(__file__).parents[2] / "dispatch" / "data" / "demo-day.json"
HOME = {"lat": 59.93, "lon": 10.71}
SEAL = "Seal kit <b>& co</b>"  # a name that must be escaped in HTML


def technician(code: str, van: dict[str, int]) -> dict[str, Any]:
    return {
        "id": code, "name": f"Tech {code}", "skills": ["hvac"], "start": HOME, "end": HOME,
        "shift": ["08:00", "16:00"], "break": None, "van_stock": van,
    }  # fmt: skip


def job(ref: str, parts: dict[str, int], pinned: str, lat: float) -> dict[str, Any]:
    return {
        "id": ref, "title": "Service", "location": {"lat": lat, "lon": 10.75},
        "duration_min": 30, "skills": ["hvac"], "parts": parts, "priority": "high",
        "window": None, "sla_due": None, "pinned_to": pinned,
    }  # fmt: skip


def warehouse(code: str, stock: dict[str, int], lat: float) -> dict[str, Any]:
    return {
        "id": code, "name": f"Depot {code}", "location": {"lat": lat, "lon": 10.74},
        "hours": ["07:00", "17:00"], "pickup_minutes": 10, "stock": stock,
    }  # fmt: skip


#: Filters are only at WH-A, seal kits only at WH-B, so each route's pick-ups are forced:
#: T-01 needs 3 filters (holds none) and 2 seal kits (holds 1), T-02 2 seal kits (holds none).
SCENARIO = {
    "format": "fieldops-scenario/1",
    "name": "kitting",
    "date": DAY,
    "timezone": "Europe/Oslo",
    "travel": {"model": "geodesic", "speed_kmh": 32.0, "circuity": 1.35},
    "parts": [{"sku": "FLT-2020", "name": "Air filter 20x20"}, {"sku": "SEAL-KIT", "name": SEAL}],
    "warehouses": [
        warehouse("WH-A", {"FLT-2020": 10}, 59.92),
        warehouse("WH-B", {"SEAL-KIT": 10}, 59.94),
    ],
    "technicians": [technician("T-01", {"SEAL-KIT": 1}), technician("T-02", {})],
    "jobs": [
        job("J-1", {"FLT-2020": 2}, "T-01", 59.95),
        job("J-2", {"FLT-2020": 1}, "T-01", 59.96),
        job("J-3", {"SEAL-KIT": 2}, "T-02", 59.95),
        job("J-4", {"SEAL-KIT": 2}, "T-01", 59.97),
    ],
}


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep instance files (secret key, default database) out of the checkout."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture
def database(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def published_day(
    database_url: str, database: sessionmaker[Session], tmp_path: Path
) -> sessionmaker[Session]:
    """``SCENARIO`` imported, planned and published."""
    file = tmp_path / "kitting.json"
    file.write_text(json.dumps(SCENARIO))
    imported = run(database_url, "import-scenario", str(file))
    assert imported.exit_code == 0, imported.output
    with database.begin() as session:
        day = date.fromisoformat(DAY)
        problem = build_problem(session, day)
        solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
        assert solution.unassigned == ()
        plan = new_plan(session, day, problem, solution, reason="test", created_by=None)
        publish(session, plan.id, user_id=None)
    return database


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def printed_csv(result: Result, header: str) -> list[dict[str, str]]:
    """The rows of the CSV a command printed, from its header line on."""
    return csv_rows(result.stdout[result.stdout.index(header) :])


def picked(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], tuple[str, str, set[str]]]:
    """(van, warehouse, SKU) -> (quantity, short, jobs): the jobs as a set, for lines whose
    jobs' order the search decides."""
    return {
        (row["van"], row["warehouse"], row["sku"]): (
            row["quantity"],
            row["short"],
            set(row["jobs"].split(";")),
        )
        for row in rows
    }


def test_picklist_csv_names_what_each_van_loads_where_with_job_references(
    database_url: str, published_day: sessionmaker[Session], tmp_path: Path
) -> None:
    output = tmp_path / "pick.csv"

    result = run(database_url, "picklist", DAY, "--csv", "--output", str(output))

    assert result.exit_code == 0, result.output
    assert f"Wrote the pick list of {DAY} (3 lines) to {output}." in result.output
    rows = csv_rows(output.read_text())
    assert list(rows[0]) == [
        "van",
        "warehouse",
        "sku",
        "name",
        "unit",
        "quantity",
        "short",
        "jobs",
    ]
    assert picked(rows) == {
        ("VAN-T-01", "WH-A", "FLT-2020"): ("3", "0", {"J-1", "J-2"}),
        ("VAN-T-01", "WH-B", "SEAL-KIT"): ("1", "0", {"J-4"}),
        ("VAN-T-02", "WH-B", "SEAL-KIT"): ("2", "0", {"J-3"}),
    }
    assert {row["name"] for row in rows} == {"Air filter 20x20", SEAL}
    assert [row["van"] for row in rows] == ["VAN-T-01", "VAN-T-01", "VAN-T-02"]


def test_picklist_prints_to_standard_output_what_it_writes_to_a_file(
    database_url: str, published_day: sessionmaker[Session], tmp_path: Path
) -> None:
    output = tmp_path / "pick.csv"
    assert run(database_url, "picklist", DAY, "--csv", "-o", str(output)).exit_code == 0

    result = run(database_url, "picklist", DAY, "--csv")

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(output.read_text())
    assert output.read_text().startswith("van,warehouse,")


def test_picklist_of_one_van(database_url: str, published_day: sessionmaker[Session]) -> None:
    result = run(database_url, "picklist", DAY, "--csv", "--van", "VAN-T-02")

    assert result.exit_code == 0, result.output
    assert picked(printed_csv(result, "van,")) == {
        ("VAN-T-02", "WH-B", "SEAL-KIT"): ("2", "0", {"J-3"})
    }


def test_picklist_html_is_a_printable_page_by_van_then_warehouse(
    database_url: str, published_day: sessionmaker[Session], tmp_path: Path
) -> None:
    output = tmp_path / "pick.html"

    result = run(database_url, "picklist", DAY, "-o", str(output))

    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert html.startswith("<!doctype html>") and "@media print" in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "Seal kit &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>" not in html
    headings = re.findall(r"<h([23])>(.*?)</h\1>", html)
    assert headings[0] == ("2", "VAN-T-01: Van of Tech T-01")
    assert sorted(headings[1:3]) == [("3", "At WH-A: Depot WH-A"), ("3", "At WH-B: Depot WH-B")]
    assert headings[3:] == [("2", "VAN-T-02: Van of Tech T-02"), ("3", "At WH-B: Depot WH-B")]
    rows = [
        re.sub(r"<[^>]+>", "|", row).split("|")
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    ]
    cells = [[unescape(cell.strip()) for cell in row if cell.strip()] for row in rows]
    assert ["☐", "SEAL-KIT", SEAL, "2", "each", "0", "J-3"] in cells
    (filters,) = [row for row in cells if "FLT-2020" in row]
    assert filters[:6] == ["☐", "FLT-2020", "Air filter 20x20", "3", "each", "0"]
    assert sorted(filters[6].split(", ")) == ["J-1", "J-2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2026-13-01"], "DATE must look like 2026-11-24, got '2026-13-01'"),
        (["2026-11-25"], "no plan of 2026-11-25 is published"),
        ([DAY, "--van", "VAN-T-99"], "no stock location 'VAN-T-99'"),
        ([DAY, "--van", "WH-A"], "WH-A is not a van"),
    ],
)
def test_picklist_refuses_bad_input_with_a_message(
    database_url: str,
    published_day: sessionmaker[Session],
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    output = tmp_path / "pick.html"

    result = run(database_url, "picklist", *args, "-o", str(output))

    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not output.exists()


def test_picklist_confirm_loads_the_van_once(
    database_url: str, published_day: sessionmaker[Session]
) -> None:
    confirmed = run(database_url, "picklist-confirm", DAY, "--van", "VAN-T-01")
    again = run(database_url, "picklist-confirm", DAY, "--van", "VAN-T-01")
    listed = run(database_url, "picklist", DAY, "--csv")

    assert confirmed.exit_code == 0, confirmed.output
    loaded = re.findall(r"^\s+(\S+)\s+(\S+)\s+(\d+)$", confirmed.output, re.MULTILINE)
    assert sorted(loaded) == [("WH-A", "FLT-2020", "3"), ("WH-B", "SEAL-KIT", "1")]
    assert again.exit_code == 0 and f"Nothing to load into VAN-T-01 on {DAY}." in again.output
    assert set(picked(printed_csv(listed, "van,"))) == {("VAN-T-02", "WH-B", "SEAL-KIT")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([DAY, "--van", "VAN-T-99"], "no stock location 'VAN-T-99'"),
        ([DAY, "--van", "VAN-T-01", "--warehouse", "VAN-T-02"], "VAN-T-02 is not a warehouse"),
        (["2026-11-25", "--van", "VAN-T-01"], "no plan of 2026-11-25 is published"),
    ],
)
def test_picklist_confirm_refuses_bad_input_and_posts_nothing(
    database_url: str, published_day: sessionmaker[Session], args: list[str], message: str
) -> None:
    result = run(database_url, "picklist-confirm", *args)
    listed = run(database_url, "picklist", DAY, "--csv")

    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(printed_csv(listed, "van,")) == 3


def test_reorder_counts_the_published_days_reservations(
    database_url: str, published_day: sessionmaker[Session]
) -> None:
    """WH-B holds 10 seal kits and the day wants 3 of them: with the day counted it falls to
    its point of 7; a van's rule names the warehouse to send from."""
    with published_day.begin() as session:
        set_reorder_rule(session, "WH-B", "SEAL-KIT", point=7, quantity=5)
        set_reorder_rule(session, "VAN-T-02", "FLT-2020", point=0, quantity=2)

    before = run(database_url, "reorder", "--today", "2026-11-25", "--csv")
    counted = run(database_url, "reorder", "--today", DAY, "--horizon-days", "0", "--csv")
    table = run(database_url, "reorder", "--today", DAY)

    assert before.exit_code == counted.exit_code == table.exit_code == 0, before.output
    assert printed_csv(before, "location,") == [
        {
            "location": "VAN-T-02", "kind": "van", "sku": "FLT-2020", "name": "Air filter 20x20",
            "on_hand": "0", "reserved_ahead": "0", "projected": "0", "reorder_point": "0",
            "reorder_quantity": "2", "suggested": "2", "source": "WH-A",
        }
    ]  # fmt: skip
    (warehouse_row, _) = printed_csv(counted, "location,")
    assert (warehouse_row["location"], warehouse_row["reserved_ahead"]) == ("WH-B", "3")
    assert (warehouse_row["projected"], warehouse_row["suggested"]) == ("7", "5")
    assert warehouse_row["source"] == ""
    assert re.search(r"WH-B\s+SEAL-KIT\s+10\s+3\s+7\s+7\s+5\s+supplier", table.output)
    assert re.search(r"VAN-T-02\s+FLT-2020\s+0\s+0\s+0\s+0\s+2\s+WH-A", table.output)


def test_reorder_with_nothing_low_says_so(
    database_url: str, published_day: sessionmaker[Session]
) -> None:
    result = run(database_url, "reorder", "--today", DAY)

    assert result.exit_code == 0, result.output
    assert "Nothing to reorder" in result.output


def kitting(
    plan: dict[str, Any], day: dict[str, Any]
) -> list[tuple[str, str, str, int, list[str]]]:
    """The pick list a plan implies, from the plan and the imported day alone.

    Along each route the van's own stock serves each job first; what it lacks comes from
    the route's earlier pick-ups, the first first. Rows (van, warehouse, SKU, units, jobs
    in route order), ordered as pick lists are: van, the first pick-up's place in the
    route, warehouse, SKU.
    """
    parts = {job["id"]: job["parts"] for job in day["jobs"]}
    vans = {technician["id"]: dict(technician["van_stock"]) for technician in day["technicians"]}
    picked: dict[tuple[str, str, str], tuple[int, int, list[str]]] = {}
    for route in plan["routes"]:
        van = vans[route["technician"]]
        pickups: list[tuple[int, str, dict[str, int]]] = []
        for place, stop in enumerate(route["stops"]):
            if stop["type"] == "warehouse":
                pickups.append((place, stop["id"], dict(stop["pickup"])))
                continue
            if stop["type"] != "job":
                continue
            for sku, wanted in parts[stop["id"]].items():
                needed = wanted - min(wanted, van.get(sku, 0))
                van[sku] = van.get(sku, 0) - (wanted - needed)
                for at, warehouse, left in pickups:
                    taken = min(needed, left.get(sku, 0))
                    if taken:
                        left[sku] -= taken
                        needed -= taken
                        key = (f"VAN-{route['technician']}", warehouse, sku)
                        first, units, jobs = picked.get(key, (at, 0, []))
                        picked[key] = (min(first, at), units + taken, [*jobs, stop["id"]])
                assert needed == 0, f"the plan brings {stop['id']} too few {sku}"
    order = sorted(picked, key=lambda key: (key[0], picked[key][0], key[1], key[2]))
    return [(*key, picked[key][1], list(dict.fromkeys(picked[key][2]))) for key in order]


def test_the_demo_days_pick_list_is_the_one_its_exported_plan_implies(
    database_url: str, tmp_path: Path
) -> None:
    """The demo day planned and published; its pick list (CSV) equals the one computed
    independently from the exported plan and the imported day's van stock and job parts."""
    day = json.loads(DEMO.read_text())
    plan_file = tmp_path / "plan.json"
    demo = run(database_url, "demo", "--no-serve", "--plan-time-limit", "2")
    assert demo.exit_code == 0, demo.output
    exported = run(database_url, "export-plan", day["date"], "-o", str(plan_file))
    assert exported.exit_code == 0, exported.output

    result = run(database_url, "picklist", day["date"], "--csv")

    assert result.exit_code == 0, result.output
    expected = kitting(json.loads(plan_file.read_text()), day)
    assert len(expected) >= 5  # the demo's vans lack parts the warehouses hold
    rows = printed_csv(result, "van,")
    assert [
        (
            row["van"],
            row["warehouse"],
            row["sku"],
            int(row["quantity"]) + int(row["short"]),
            row["jobs"].split(";"),
        )
        for row in rows
    ] == expected
    assert {row["short"] for row in rows} == {"0"}  # the plan takes only what warehouses hold

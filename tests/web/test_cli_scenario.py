"""``fieldops import-scenario``: replacing a day, refusing one, and long lists of problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.models import Job
from inventory.models import StockLocation
from web.cli import cli

OSLO = Path(__file__).parents[1] / "data" / "fieldservice" / "oslo-5x30.json"


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep instance files (secret key, default database) out of the checkout."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def scenario_file(folder: Path, data: dict[str, Any], name: str = "day.json") -> str:
    path = folder / name
    path.write_text(json.dumps(data))
    return str(path)


def job_references(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        references = list(session.scalars(select(Job.reference).order_by(Job.reference)))
    engine.dispose()
    return references


def test_second_import_of_a_day_is_one_message_suggesting_replace(
    database_url: str, tmp_path: Path
) -> None:
    """Importing a day twice prints one message naming --replace, not one line per job."""
    assert run(database_url, "import-scenario", str(OSLO)).exit_code == 0

    again = run(database_url, "import-scenario", str(OSLO))

    assert again.exit_code == 2
    assert "Traceback" not in again.output
    assert again.output.count("Error:") == 1 and "J-0001" not in again.output, again.output
    assert "2026-11-24 is imported already (30 imported jobs)" in again.output
    assert "--replace" in again.output


def test_replace_swaps_the_days_jobs(database_url: str, tmp_path: Path) -> None:
    """--replace puts the new file's jobs in place of the day's imported ones."""
    assert run(database_url, "import-scenario", str(OSLO)).exit_code == 0
    data = json.loads(OSLO.read_text())
    data["jobs"] = [{**job, "id": job["id"].replace("J-", "K-")} for job in data["jobs"][:12]]

    replaced = run(database_url, "import-scenario", "--replace", scenario_file(tmp_path, data))

    assert replaced.exit_code == 0, replaced.output
    assert "(replacing 30 jobs)" in replaced.output and "12 jobs" in replaced.output
    assert job_references(database_url) == [f"K-{n:04d}" for n in range(1, 13)]


def test_more_than_twenty_problems_are_summarized(database_url: str, tmp_path: Path) -> None:
    """Thirty bad jobs print the first twenty problems and how many more there are."""
    data = json.loads(OSLO.read_text())
    for job in data["jobs"]:
        job["duration_min"] = 0

    result = run(database_url, "import-scenario", scenario_file(tmp_path, data))

    assert result.exit_code == 2
    listed = [line for line in result.output.splitlines() if "duration_min" in line]
    assert [line.split()[0] for line in listed] == [f"jobs[{i}]" for i in range(20)]
    assert result.output.rstrip().endswith("… and 10 more")
    assert job_references(database_url) == []


def test_warehouse_with_a_van_code_exits_2_with_a_message(
    database_url: str, tmp_path: Path
) -> None:
    """A warehouse named like a technician's van is refused with exit 2 and nothing stored."""
    data = json.loads(OSLO.read_text())
    data["warehouses"][0]["id"] = "VAN-T-02"

    result = run(database_url, "import-scenario", scenario_file(tmp_path, data))

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "warehouses[0] (VAN-T-02).id: VAN-… codes are reserved" in result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(StockLocation)) == 0
    engine.dispose()


def test_job_id_intake_will_hand_out_exits_2(database_url: str, tmp_path: Path) -> None:
    """A job id shaped like a future service-request reference is refused, nothing stored."""
    data = json.loads(OSLO.read_text())
    data["jobs"][0]["id"] = "2026-000001"

    result = run(database_url, "import-scenario", scenario_file(tmp_path, data))

    assert result.exit_code == 2
    assert "jobs[0] (2026-000001).id: has the shape of a service-request reference" in (
        result.output
    )
    assert job_references(database_url) == []

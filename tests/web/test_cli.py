"""The ``fieldops`` command line: what a user types, what they see, what is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dispatch.models import Job, ServiceRequest, Technician
from inventory.models import Part
from tests.helpers import count_rows
from web.cli import cli

DAYS = Path(__file__).parents[1] / "data" / "fieldservice"
CATALOG = Path(__file__).parents[2] / "dispatch" / "data" / "catalog.json"


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep instance files (secret key, default database) out of the checkout."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def test_init_db_creates_schema_in_an_empty_sqlite_file(tmp_path: Path) -> None:
    """init-db on a new file creates every table; running it again changes nothing."""
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert run(url, "init-db").exit_code == 0
    again = run(url, "init-db")
    assert again.exit_code == 0 and "newest schema version" in again.output
    assert count_rows(url, Job) == 0


def test_import_then_export_round_trips(database_url: str, tmp_path: Path) -> None:
    """import-scenario then export-scenario gives back the same day."""
    day = DAYS / "oslo-5x30.json"
    imported = run(database_url, "import-scenario", str(day))
    assert imported.exit_code == 0, imported.output
    assert "5 technicians, 30 jobs" in imported.output

    out = tmp_path / "out.json"
    exported = run(database_url, "export-scenario", "2026-11-24", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text()) == json.loads(day.read_text())


def test_bad_scenario_exits_2_naming_job_and_field(database_url: str, tmp_path: Path) -> None:
    """A malformed scenario names each job and field, exits 2 and writes nothing."""
    data = json.loads((DAYS / "oslo-5x30.json").read_text())
    data["jobs"][1]["duration_min"] = -5
    data["jobs"][2]["pinned_to"] = "T-99"
    data["jobs"][3]["parts"] = {"NO-SUCH-PART": 1}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))

    result = run(database_url, "import-scenario", str(bad))

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for expected in ("J-0002", "duration_min", "J-0003", "T-99", "J-0004", "NO-SUCH-PART"):
        assert expected in result.output
    assert count_rows(database_url, Job) == count_rows(database_url, Technician) == 0
    assert count_rows(database_url, Part) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import-scenario", "/no/such/file.json"], "no such file"),
        (["export-scenario", "24.11.2026", "-o", "x.json"], "DATE must look like"),
        (["export-scenario", "2030-01-01", "-o", "x.json"], "2030-01-01"),
        (["import-catalog", "/no/such/catalog.json"], "no such file"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    database_url: str, args: list[str], message: str
) -> None:
    """Missing files, malformed dates and unknown days are user errors: exit 2, one message."""
    result = run(database_url, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_non_json_file_is_refused(database_url: str, tmp_path: Path) -> None:
    """A file that is not JSON is reported as such."""
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = run(database_url, "import-scenario", str(junk))
    assert result.exit_code == 2 and "is not JSON" in result.output


def test_csv_import_is_all_or_nothing(database_url: str, tmp_path: Path) -> None:
    """A CSV with bad rows names each row and field and records none; a clean one records all."""
    # The catalog's typical parts must exist: the day brings them (and requests of its own).
    assert run(database_url, "import-scenario", str(DAYS / "oslo-5x30.json")).exit_code == 0
    assert run(database_url, "import-catalog", str(CATALOG)).exit_code == 0
    before = count_rows(database_url, ServiceRequest)
    header = "requester_name,latitude,longitude,catalog_code,impact,urgency\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + "Ann,59.9,10.7,LEAK,low,low\n,59.9,10.7,LEAK,low,low\nBo,99,10.7,NOPE,x,low\n"
    )

    result = run(database_url, "import-requests", str(bad))

    assert result.exit_code == 2
    assert "row 3, requester_name" in result.output
    assert "row 4, latitude" in result.output and "row 4, catalog_code" in result.output
    assert "row 4, impact" in result.output
    assert count_rows(database_url, ServiceRequest) == before

    good = tmp_path / "good.csv"
    good.write_text(header + "Ann,59.9,10.7,LEAK,low,low\nBo,59.8,10.6,SOCKET,high,high\n")
    result = run(database_url, "import-requests", str(good))
    assert result.exit_code == 0, result.output
    assert count_rows(database_url, ServiceRequest) == before + 2


def test_files_saved_with_a_byte_order_mark_are_read(database_url: str, tmp_path: Path) -> None:
    """A spreadsheet's UTF-8 CSV (BOM first) and a JSON file with a BOM import like plain ones."""
    day = tmp_path / "day.json"
    day.write_bytes(b"\xef\xbb\xbf" + (DAYS / "oslo-5x30.json").read_bytes())
    assert run(database_url, "import-scenario", str(day)).exit_code == 0
    assert run(database_url, "import-catalog", str(CATALOG)).exit_code == 0
    requests = tmp_path / "requests.csv"
    requests.write_bytes(
        b"\xef\xbb\xbfrequester_name,latitude,longitude,catalog_code,impact,urgency\n"
        + "Åsa,59.9,10.7,LEAK,low,low\r\n".encode()
    )
    before = count_rows(database_url, ServiceRequest)

    result = run(database_url, "import-requests", str(requests))

    assert result.exit_code == 0, result.output
    assert count_rows(database_url, ServiceRequest) == before + 1


def test_csv_with_many_bad_rows_lists_twenty_problems_and_counts_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    """Thirty bad rows print twenty problems, then how many more there are; nothing is raised."""
    assert run(database_url, "import-scenario", str(DAYS / "oslo-5x30.json")).exit_code == 0
    assert run(database_url, "import-catalog", str(CATALOG)).exit_code == 0
    bad = tmp_path / "many.csv"
    bad.write_text(
        "requester_name,latitude,longitude,catalog_code,impact,urgency\n"
        + ",59.9,10.7,LEAK,low,low\n" * 30
    )
    before = count_rows(database_url, ServiceRequest)

    result = run(database_url, "import-requests", str(bad))

    assert result.exit_code == 2
    listed = [line for line in result.output.splitlines() if line.startswith("  row ")]
    assert len(listed) == 20
    assert result.output.rstrip().endswith("… and 10 more")
    assert count_rows(database_url, ServiceRequest) == before


def test_csv_with_unknown_column_is_refused(database_url: str, tmp_path: Path) -> None:
    """A misspelt column is reported instead of being silently ignored."""
    csv_file = tmp_path / "typo.csv"
    csv_file.write_text("requester_nmae,latitude\nAnn,59\n")
    result = run(database_url, "import-requests", str(csv_file))
    assert result.exit_code == 2 and "requester_nmae" in result.output


def test_create_user_refuses_short_password(database_url: str) -> None:
    """Account rules are reported as a message, exit 2."""
    result = run(
        database_url,
        "create-user",
        "ann",
        "--full-name",
        "Ann",
        "--role",
        "dispatcher",
        "--password",
        "short",
    )
    assert result.exit_code == 2 and "at least 8 characters" in result.output

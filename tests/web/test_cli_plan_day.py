"""``fieldops plan-day`` and ``fieldops export-plan``: the database path of planning."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.planning import build_problem, new_plan, publish
from optimizer import SolveParams, check_plan_document, solve
from web.cli import cli

OSLO = Path(__file__).parents[1] / "data" / "fieldservice" / "oslo-5x30.json"
OSLO_DATE = "2026-11-24"


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep instance files (secret key, default database) out of the checkout."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def test_export_plan_writes_the_published_plan_which_passes_the_checker(
    database_url: str, tmp_path: Path
) -> None:
    assert run(database_url, "import-scenario", str(OSLO)).exit_code == 0
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        day = date.fromisoformat(OSLO_DATE)
        problem = build_problem(session, day)
        solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
        plan = new_plan(session, day, problem, solution, reason="test", created_by=None)
        publish(session, plan.id, user_id=None)
        document = plan.document
    with make_session_factory(engine)() as session:
        problem = build_problem(session, day)
    engine.dispose()
    output = tmp_path / "plan.json"

    result = run(database_url, "export-plan", OSLO_DATE, "-o", str(output))

    assert result.exit_code == 0, result.output
    assert "version 1" in result.output
    written = json.loads(output.read_text())
    assert written == document
    assert check_plan_document(problem, written).feasible


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (OSLO_DATE, "no plan of 2026-11-24 is published"),
        ("2026-13-01", "DATE must look like 2026-11-24"),
    ],
)
def test_export_plan_without_a_published_plan_or_with_a_bad_date_exits_2(
    database_url: str, tmp_path: Path, day: str, message: str
) -> None:
    output = tmp_path / "plan.json"

    result = run(database_url, "export-plan", day, "-o", str(output))

    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not output.exists()

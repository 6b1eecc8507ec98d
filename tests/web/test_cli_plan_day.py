"""``fieldops plan-day`` and ``fieldops export-plan``: the database path of planning."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.enums import RunState
from dispatch.models import PlanRun
from dispatch.planning import build_problem, new_plan, publish, published, request_run
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


def test_plan_day_runs_proposes_and_publishes(database_url: str) -> None:
    assert run(database_url, "import-scenario", str(OSLO)).exit_code == 0

    result = run(database_url, "plan-day", OSLO_DATE, "--time-limit", "1", "--publish")

    assert result.exit_code == 0, result.output
    assert "jobs served" in result.output and "Published proposal" in result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        run_record = session.scalars(select(PlanRun)).one()
        assert run_record.state == RunState.SUCCEEDED and run_record.best_score is not None
        current = published(session, date.fromisoformat(OSLO_DATE))
        assert current is not None and current[0] == 1 and current[1].run_id == run_record.id
    engine.dispose()


def test_plan_day_refuses_while_the_day_has_an_active_run(database_url: str) -> None:
    assert run(database_url, "import-scenario", str(OSLO)).exit_code == 0
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        active = request_run(
            session, date.fromisoformat(OSLO_DATE), time_limit_s=5, requested_by=None
        )
    engine.dispose()

    result = run(database_url, "plan-day", OSLO_DATE, "--time-limit", "1")

    assert result.exit_code == 2, result.output
    assert f"run {active.id} for {OSLO_DATE} is already queued" in result.output


def test_plan_day_of_a_day_never_set_up_fails_the_run_with_the_reason(database_url: str) -> None:
    result = run(database_url, "plan-day", "2030-01-02", "--time-limit", "1")

    assert result.exit_code == 1, result.output
    assert "failed" in result.output and "no service day on 2030-01-02" in result.output
    assert "Traceback" not in result.output

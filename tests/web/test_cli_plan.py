"""``fieldops plan``: planning a day from the command line, what it prints and what it writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from optimizer.check import check_plan_document
from optimizer.io import read_problem
from optimizer.problem import Priority
from web.cli import cli

DATA = Path(__file__).parents[1] / "data"
OSLO = DATA / "fieldservice" / "oslo-5x30.json"
C101 = DATA / "solomon" / "C101.txt"


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep any instance files out of the checkout; planning needs no database."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path / "instance"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_plan_prints_the_figures_and_writes_a_valid_plan(tmp_path: Path) -> None:
    """plan on oslo exits 0, prints served counts, travel, lateness, score; writes a sound plan."""
    out = tmp_path / "out.json"

    result = run("plan", str(OSLO), "--time-limit", "1", "-o", str(out))

    assert result.exit_code == 0, result.output
    problem = read_problem(OSLO)
    document = json.loads(out.read_text())
    report = check_plan_document(problem, document)
    assert report.violations == ()
    lines = result.output.splitlines()
    assert lines[0].startswith("oslo-5x30: 30 jobs, 5 technicians, planned in ")
    for priority in Priority:
        total = sum(1 for one in problem.jobs if one.priority == priority)
        pattern = rf"^\s+{priority.value}\s+served\s+(\d+) of {total}$"
        printed = [m for line in lines if (m := re.match(pattern, line))]
        if total == 0:
            assert printed == []
            continue
        (match,) = printed
        assert int(match.group(1)) == report.served[priority]
    travel = re.search(r"travel ([\d,.]+) min, late ([\d,.]+) min", result.output)
    assert travel is not None
    assert float(travel.group(1).replace(",", "")) == pytest.approx(
        report.travel_minutes, abs=0.051
    )
    assert float(travel.group(2).replace(",", "")) == pytest.approx(report.late_minutes, abs=0.051)
    score = re.search(r"score ([\d,.]+)", result.output)
    assert score is not None
    assert float(score.group(1).replace(",", "")) == pytest.approx(report.score, abs=0.051)
    assert f"Wrote the plan to {out}." in result.output


def test_plan_without_output_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without -o the figures are printed and no file appears."""
    monkeypatch.chdir(tmp_path)

    result = run("plan", str(C101), "--time-limit", "0")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("C101: 100 jobs, 25 technicians")
    assert re.search(r"^\s+emergency\s+served\s+100 of 100$", result.output, re.MULTILINE)
    assert "Wrote" not in result.output
    assert list(tmp_path.iterdir()) == []


def malformed_scenario(tmp_path: Path) -> Path:
    """oslo-5x30 with a negative duration on its first job and a bad clock on its third."""
    document = json.loads(OSLO.read_text())
    document["jobs"][0]["duration_min"] = -5
    document["jobs"][2]["window"] = ["8:00", "12:00"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    return path


def test_malformed_scenario_exits_2_naming_job_and_field(tmp_path: Path) -> None:
    """A scenario with bad fields exits 2 with one line per problem, each naming job and field."""
    path = malformed_scenario(tmp_path)
    out = tmp_path / "out.json"

    result = run("plan", str(path), "--time-limit", "0", "-o", str(out))

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "is not a valid problem" in result.output
    assert "jobs[0] (J-0001).duration_min" in result.output
    assert "jobs[2] (J-0003).window[0]" in result.output and "'8:00'" in result.output
    assert not out.exists()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    """A scenario path that does not exist exits 2 with a one-line message."""
    missing = tmp_path / "nowhere.json"

    result = run("plan", str(missing))

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_negative_time_limit_is_a_usage_error() -> None:
    """--time-limit below zero is refused before any planning."""
    result = run("plan", str(OSLO), "--time-limit", "-1")

    assert result.exit_code == 2
    assert "time-limit" in result.output


@pytest.mark.parametrize(
    "content", ["[]", "", "hello, this is not a problem\n"], ids=["json-list", "empty", "text"]
)
def test_file_that_is_neither_scenario_nor_solomon_exits_2(tmp_path: Path, content: str) -> None:
    """A file that is neither a scenario nor a Solomon instance exits 2 without a traceback."""
    path = tmp_path / "day.json"
    path.write_text(content)

    result = run("plan", str(path), "--time-limit", "0")

    assert result.exit_code == 2, result.exception
    assert isinstance(result.exception, SystemExit)


def test_plan_prints_why_jobs_are_left_out_grouped_by_reason(tmp_path: Path) -> None:
    """Unassigned jobs are counted per reason, most frequent first, with their first few ids."""
    document = json.loads(OSLO.read_text())
    for job in document["jobs"][:7]:
        job["skills"] = ["diving"]  # nobody has it
    document["jobs"][7]["window"] = ["21:00", "22:00"]  # after every shift
    day = tmp_path / "day.json"
    day.write_text(json.dumps(document))
    out = tmp_path / "plan.json"

    result = run("plan", str(day), "--time-limit", "0", "-o", str(out))

    assert result.exit_code == 0, result.output
    left_out: dict[str, list[str]] = {}
    for item in json.loads(out.read_text())["unassigned"]:
        left_out.setdefault(item["reason"], []).append(item["id"])
    diving = [job["id"] for job in document["jobs"][:7]]
    assert left_out["no technician has skill 'diving'"] == diving
    lines = result.output.splitlines()
    heading = lines.index(f"  unassigned {sum(len(ids) for ids in left_out.values())} jobs:")
    printed = lines[heading + 1 : heading + 1 + len(left_out)]
    assert printed[0] == (
        f"      7  no technician has skill 'diving': {', '.join(diving[:5])} and 2 more"
    )
    assert sorted(printed) == sorted(
        f"  {len(ids):>5}  {reason}: {', '.join(ids[:5])}"
        + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        for reason, ids in left_out.items()
    )
    counts = [int(line.split()[0]) for line in printed]
    assert counts == sorted(counts, reverse=True)


def test_the_same_seed_and_iterations_write_the_same_plan(tmp_path: Path) -> None:
    plans = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in plans:
        result = run("plan", str(OSLO), "--iterations", "1", "--seed", "5", "-o", str(out))
        assert result.exit_code == 0, result.output
    assert plans[0].read_bytes() == plans[1].read_bytes()
    refused = run("plan", str(OSLO), "--iterations", "0")
    assert refused.exit_code == 2 and "--iterations" in refused.output

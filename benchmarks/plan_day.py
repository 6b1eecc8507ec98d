"""Does planning from the database lose anything? ``plan-day`` + ``export-plan`` against ``plan``.

    python benchmarks/plan_day.py [--time-limit 30] [DAY.json ...]

For each day (by default every field-service day in ``../shared/benchmarks``): plan the
file with ``fieldops plan``; import it into a fresh SQLite database, plan it there with
``fieldops plan-day --publish`` (the run record, the worker's solve process, the
proposal, publishing) and write the published plan with ``fieldops export-plan``. The
exported plan is judged by the checker against the file itself. The issue asks for the
database path's score within 2 % of the file path's at equal time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from optimizer import check_plan_document, read_problem

SHARED_DAYS = Path(__file__).resolve().parents[2] / "shared/benchmarks/fieldservice"


def fieldops(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from web.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"fieldops {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def score_of(day: Path, plan: Path) -> float:
    report = check_plan_document(read_problem(day), json.loads(plan.read_text()))
    if report.score is None:
        raise SystemExit(f"{plan}: {report.violations[:3]}")
    return report.score


def compare(day: Path, time_limit: int, folder: Path) -> tuple[float, float]:
    by_file, by_database = folder / f"{day.stem}.file.json", folder / f"{day.stem}.db.json"
    fieldops("plan", str(day), "--time-limit", str(time_limit), "-o", str(by_file))
    url = f"sqlite:///{folder / day.stem}.sqlite3"
    date = json.loads(day.read_text())["date"]
    fieldops("--database-url", url, "import-scenario", str(day))
    fieldops("--database-url", url, "plan-day", date, "--time-limit", str(time_limit), "--publish")
    fieldops("--database-url", url, "export-plan", date, "-o", str(by_database))
    return score_of(day, by_file), score_of(day, by_database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("days", nargs="*", type=Path)
    parser.add_argument("--time-limit", type=int, default=30)
    options = parser.parse_args()
    days = options.days or sorted(SHARED_DAYS.glob("*.json"))
    print(
        f"{'day':<22} {'plan':>12} {'plan-day':>12} {'ratio':>7}   (time limit {options.time_limit:g} s)"
    )
    with tempfile.TemporaryDirectory() as folder:
        for day in days:
            by_file, by_database = compare(day, options.time_limit, Path(folder))
            ratio = by_database / by_file
            print(f"{day.stem:<22} {by_file:>12,.1f} {by_database:>12,.1f} {ratio:>7.3f}")


if __name__ == "__main__":
    main()

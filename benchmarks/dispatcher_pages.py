"""How fast the dispatcher's screens answer on a large planned day.

    python -m benchmarks.dispatcher_pages [--day PATH] [--time-limit 20] [--trials 20]
                                         [--database-url URL]

Imports the day (by default stockholm-200x1200: 200 technicians, 1,200 jobs) into a fresh
SQLite file (or the database URL given, which must be empty), plans and publishes it with
``fieldops plan-day --publish``, then times what a signed-in dispatcher's browser asks for:
the board's and the map's data, two weeks of KPIs, the request desk's list and the board
page itself, each ``--trials`` times through the app (Flask's test client, no network).
Prints the median and 95th percentile in milliseconds and the answer's size.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from flask.testing import FlaskClient

from benchmarks.plan_day import SHARED_DAYS, fieldops
from web.app import create_app

PASSWORD = "benchmark-password"


def signed_in(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/login",
        data={"username": "dana", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    if answer.status_code != 302:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def timed(client: FlaskClient, path: str, trials: int) -> tuple[float, float, int]:
    """Median and p95 milliseconds of ``trials`` GETs of ``path``, and the answer's bytes."""
    seconds, size = [], 0
    for _ in range(trials):
        started = time.perf_counter()
        answer = client.get(path)
        seconds.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.get_data(as_text=True)}")
        size = len(answer.get_data())
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    return statistics.median(seconds) * 1000, p95 * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=Path, default=SHARED_DAYS / "stockholm-200x1200.json")
    parser.add_argument("--time-limit", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--database-url")
    options = parser.parse_args()
    day = date.fromisoformat(json.loads(options.day.read_text())["date"])
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{Path(folder) / 'pages.sqlite3'}"
        started = time.perf_counter()
        fieldops("--database-url", url, "import-scenario", str(options.day))
        fieldops("--database-url", url, "plan-day", day.isoformat(),
                 "--time-limit", str(options.time_limit), "--publish")  # fmt: skip
        fieldops("--database-url", url, "create-user", "dana", "--full-name", "Dana",
                 "--role", "dispatcher", "--password", PASSWORD)  # fmt: skip
        print(f"{options.day.stem}: imported, planned and published in "
              f"{time.perf_counter() - started:.0f} s; {options.trials} trials each")  # fmt: skip
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "benchmark-" + "x" * 32})
        client = app.test_client()
        signed_in(client)
        start = day - timedelta(days=13)
        paths = {
            "board data": f"/api/v1/plans/{day.isoformat()}/board",
            "map GeoJSON": f"/api/v1/plans/{day.isoformat()}/map",
            "KPIs, 14 days": f"/api/v1/kpis?from={start.isoformat()}&to={day.isoformat()}",
            "request desk": "/desk",
            "board page": f"/board/{day.isoformat()}",
        }
        print(f"{'answer':<16} {'median ms':>10} {'p95 ms':>8} {'KiB':>8}")
        for name, path in paths.items():
            median, p95, size = timed(client, path, options.trials)
            print(f"{name:<16} {median:>10.1f} {p95:>8.1f} {size / 1024:>8.1f}")


if __name__ == "__main__":
    main()

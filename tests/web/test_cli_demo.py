"""``fieldops demo`` and the one default database every command and the app share."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from dispatch.enums import JobStatus
from dispatch.models import Job, Technician, User
from dispatch.planning import published
from dispatch.users import authenticate
from mobile_api.http import ENGINE_KEY, SESSIONS_KEY
from tests.helpers import count_rows
from web.app import create_app
from web.cli import DEMO_PASSWORD, DEMO_TECHNICIAN_CODE, DEMO_TECHNICIAN_USER, cli

DEMO_DAY = json.loads(
    (Path(__file__).parents[2] / "dispatch" / "data" / "demo-day.json").read_text()
)


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder of the test's own, and no DATABASE_URL from outside."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path / "instance"


def fieldops(*args: str, answer: str | None = None) -> Result:
    """Run ``fieldops ARGS`` with ``answer`` typed on standard input."""
    return CliRunner().invoke(cli, list(args), input=answer)


def test_demo_and_every_command_use_the_apps_default_database(instance: Path) -> None:
    """A user created after the demo signs in to the app the demo serves: one database, named."""
    default = f"sqlite:///{instance / 'fieldops.sqlite3'}"

    demo = fieldops("demo", "--no-serve", "--plan-time-limit", "1")
    created = fieldops(
        "create-user", "alice", "--full-name", "Alice", "--role", "dispatcher",
        "--password", "alice-password",
    )  # fmt: skip

    assert demo.exit_code == 0, demo.output
    assert created.exit_code == 0, created.output
    for result in (demo, created):
        assert result.output.splitlines()[0] == f"Database: {default}"
    app = create_app()
    with app.extensions[SESSIONS_KEY]() as session:
        assert authenticate(session, "alice", "alice-password") is not None
        assert authenticate(session, "dispatcher", DEMO_PASSWORD) is not None
    app.extensions[ENGINE_KEY].dispose()


def test_demo_replaces_a_database_with_data_only_when_told(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second demo asks first: no answer or "n" keeps the data, "y" or --yes starts afresh."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    first = fieldops("demo", "--no-serve", "--plan-time-limit", "1")
    assert first.exit_code == 0, first.output
    assert count_rows(database_url, Job) == len(DEMO_DAY["jobs"])
    extra = fieldops(
        "create-user",
        "zoe",
        "--full-name",
        "Zoe",
        "--role",
        "requester",
        "--password",
        "zoe-secret",
    )
    assert extra.exit_code == 0, extra.output
    users = count_rows(database_url, User)

    unanswered = fieldops("demo", "--no-serve", "--plan-time-limit", "1")
    declined = fieldops("demo", "--no-serve", "--plan-time-limit", "1", answer="n\n")

    assert unanswered.exit_code == 2 and "pass --yes" in unanswered.output
    assert declined.exit_code == 1 and "left the database as it was" in declined.output
    assert count_rows(database_url, User) == users

    for again in (
        fieldops("demo", "--no-serve", "--plan-time-limit", "1", answer="y\n"),
        fieldops("demo", "--no-serve", "--plan-time-limit", "1", "--yes"),
    ):
        assert again.exit_code == 0, again.output
        assert count_rows(database_url, User) == users - 1  # zoe is gone, the demo users are back
        assert count_rows(database_url, Job) == len(DEMO_DAY["jobs"])
        assert count_rows(database_url, Technician) == len(DEMO_DAY["technicians"])
    assert "Traceback" not in "".join(r.output for r in (unanswered, declined))


def test_demo_technician_gets_their_jobs_from_the_phone_api(instance: Path) -> None:
    """The demo's technician login is the demo day's technician of the same name and sees their jobs."""
    assert fieldops("demo", "--no-serve", "--plan-time-limit", "1").exit_code == 0
    unlinked = fieldops(
        "create-user",
        "tom",
        "--full-name",
        "Tom",
        "--role",
        "technician",
        "--password",
        "tom-secret",
    )
    assert unlinked.exit_code == 0, unlinked.output
    app = create_app({"TESTING": True})
    client = app.test_client()

    def my_jobs(username: str, password: str) -> tuple[int, dict[str, object]]:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        response = client.get(
            f"/api/mobile/v1/me/route?date={DEMO_DAY['date']}",
            headers={"Authorization": f"Basic {token}"},
        )
        return response.status_code, response.get_json()

    status, body = my_jobs(DEMO_TECHNICIAN_USER, DEMO_PASSWORD)
    refused_status, refused = my_jobs("tom", "tom-secret")

    assert status == 200, body
    assert body["technician"] == DEMO_TECHNICIAN_CODE
    # The demo ends with the day planned and published: the technician has scheduled jobs.
    with app.extensions[SESSIONS_KEY]() as session:
        current = published(session, date.fromisoformat(DEMO_DAY["date"]))
        assert current is not None and current[0] == 1
        mine = session.scalars(
            select(Job)
            .join(Technician, Job.technician_id == Technician.id)
            .where(Technician.code == DEMO_TECHNICIAN_CODE)
        ).all()
        assert mine and all(job.status == JobStatus.SCHEDULED for job in mine)
    with app.extensions[SESSIONS_KEY]() as session:
        technician = session.scalar(
            select(Technician).where(Technician.code == DEMO_TECHNICIAN_CODE)
        )
        user = session.scalar(select(User).where(User.username == DEMO_TECHNICIAN_USER))
        assert technician is not None and user is not None
        assert technician.user_id == user.id and technician.name == user.full_name
    assert refused_status == 403, refused
    app.extensions[ENGINE_KEY].dispose()

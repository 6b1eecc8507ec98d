"""``fieldops create-user`` and ``link-technician``: accounts, passwords and technicians."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from select import select as wait_readable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.models import Technician, User
from dispatch.users import authenticate
from tests.helpers import count_rows
from web.cli import cli

OSLO = Path(__file__).parents[1] / "data" / "fieldservice" / "oslo-5x30.json"


@pytest.fixture(autouse=True)
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep instance files out of the checkout."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


@pytest.fixture
def day_url(database_url: str) -> str:
    """A database holding the oslo-5x30 day (technicians T-01 to T-05)."""
    imported = CliRunner().invoke(
        cli, ["--database-url", database_url, "import-scenario", str(OSLO)]
    )
    assert imported.exit_code == 0, imported.output
    return database_url


def fieldops(database_url: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args], input=stdin)


def new_technician_user(database_url: str, username: str, *extra: str) -> Result:
    return fieldops(
        database_url, "create-user", username, "--full-name", username.title(),
        "--role", "technician", "--password", f"{username}-password", *extra,
    )  # fmt: skip


def links(database_url: str) -> dict[str, str]:
    """Technician code → username of every linked technician."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(Technician.code, User.username).join(User, Technician.user_id == User.id)
        )
        result = {code: username for code, username in rows}
    engine.dispose()
    return result


def test_create_user_links_the_technician_it_names(day_url: str) -> None:
    """--technician CODE makes the new account sign in as that technician."""
    result = new_technician_user(day_url, "sofia", "--technician", "T-01")

    assert result.exit_code == 0, result.output
    assert "technician T-01" in result.output
    assert links(day_url) == {"T-01": "sofia"}


def test_create_user_for_a_technician_already_linked_creates_nothing(day_url: str) -> None:
    """A technician can have one account: the second is refused and not created at all."""
    assert new_technician_user(day_url, "sofia", "--technician", "T-01").exit_code == 0

    result = new_technician_user(day_url, "impostor", "--technician", "T-01")

    assert result.exit_code == 2
    assert "already linked to 'sofia'" in result.output
    assert count_rows(day_url, User) == 1 and links(day_url) == {"T-01": "sofia"}


def test_link_technician_links_an_existing_account_once(day_url: str) -> None:
    """An unlinked technician account is told how to link; linking twice is harmless; clashes fail."""
    for username in ("elena", "jonas"):
        created = new_technician_user(day_url, username)
        assert created.exit_code == 0, created.output
        assert f"fieldops link-technician {username} CODE" in created.output
    dispatcher = fieldops(
        day_url, "create-user", "dana", "--full-name", "Dana", "--role", "dispatcher",
        "--password", "dana-password",
    )  # fmt: skip
    assert dispatcher.exit_code == 0, dispatcher.output

    linked = fieldops(day_url, "link-technician", "elena", "T-02")
    repeated = fieldops(day_url, "link-technician", "elena", "T-02")
    second_technician = fieldops(day_url, "link-technician", "elena", "T-03")
    taken = fieldops(day_url, "link-technician", "jonas", "T-02")
    not_a_technician = fieldops(day_url, "link-technician", "dana", "T-03")
    unknown = fieldops(day_url, "link-technician", "jonas", "T-99")

    assert linked.exit_code == 0 and "T-02 (Elena Johansen)" in linked.output
    assert repeated.exit_code == 0
    for refused, message in (
        (second_technician, "'elena' is already linked to technician T-02"),
        (taken, "already linked to 'elena'"),
        (not_a_technician, "'dana' does not have the technician role"),
        (unknown, "no technician with code 'T-99'"),
    ):
        assert refused.exit_code == 2, refused.output
        assert message in refused.output
    assert links(day_url) == {"T-02": "elena"}


def test_password_can_come_from_standard_input(database_url: str) -> None:
    """--password-stdin takes the first line of standard input, without its line ending."""
    result = fieldops(
        database_url, "create-user", "ann", "--full-name", "Ann", "--role", "requester",
        "--password-stdin", stdin="piped password\r\nsecond line\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert authenticate(session, "ann", "piped password") is not None
    engine.dispose()


def test_without_a_password_or_terminal_nothing_is_created(database_url: str) -> None:
    """No --password and no terminal to ask on: a message naming --password-stdin, exit 2."""
    result = fieldops(
        database_url, "create-user", "ann", "--full-name", "Ann", "--role", "requester"
    )

    assert result.exit_code == 2
    assert "--password-stdin" in result.output and "Aborted" not in result.output
    assert count_rows(database_url, User) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="drives a Linux pseudo-terminal")
def test_on_a_terminal_the_password_is_asked_twice(database_url: str, tmp_path: Path) -> None:
    """With a terminal and no --password, create-user prompts (hidden, confirmed) and no warning."""
    controller, terminal = pty.openpty()
    # The child becomes a session leader and opens the terminal, making it its controlling one,
    # as a login shell would: getpass then reads from /dev/tty without echo.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys; os.open(os.ttyname(0), os.O_RDWR); from web.cli import main; main()",
            *f"--database-url {database_url} create-user ann --full-name Ann --role requester".split(),
        ],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        cwd=Path(__file__).parents[2],
        env=os.environ | {"FIELDOPS_INSTANCE_PATH": str(tmp_path / "instance")},
    )
    os.close(terminal)
    seen = b""
    for prompt in (b"Password: ", b"Repeat for confirmation: "):
        seen += read_until(controller, prompt)
        os.write(controller, b"typed password\n")
    seen += read_until(controller, b"Created ann")
    assert child.wait(timeout=60) == 0
    os.close(controller)

    assert b"typed password" not in seen and b"Warning" not in seen
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert authenticate(session, "ann", "typed password") is not None
    engine.dispose()


def read_until(controller: int, expected: bytes, timeout_s: float = 60) -> bytes:
    """What the terminal shows until ``expected`` appears."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while expected not in seen:
        ready, _, _ = wait_readable([controller], [], [], deadline - time.monotonic())
        assert ready, f"no {expected!r} on the terminal; it shows {seen!r}"
        seen += os.read(controller, 1024)
    return seen

"""Every ``fieldops`` command answers bad input with a message and an exit status, never a traceback.

The invocations go through ``main()``, the console script's entry point, so what a user
sees (click's standalone mode, our error handling) is what is tested.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from web.cli import main

OSLO = Path(__file__).parents[1] / "data" / "fieldservice" / "oslo-5x30.json"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with awkward files, an instance folder of its own and no DATABASE_URL."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "oslo.json").write_text(OSLO.read_text())
    (tmp_path / "latin1.json").write_bytes('{"name": "Bj\xf6rk"}'.encode("latin-1"))
    (tmp_path / "latin1.csv").write_bytes("requester_name\nBj\xf6rk\n".encode("latin-1"))
    (tmp_path / "deep.json").write_text("[" * 100_000)
    (tmp_path / "not-a-database.sqlite3").write_text("{}")
    return tmp_path


def run_main(args: list[str], stdin: str = "") -> int:
    """Run the console script in this process and return its exit status (output: capsys)."""
    saved = sys.argv, sys.stdin
    sys.argv, sys.stdin = ["fieldops", *args], io.StringIO(stdin)
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    else:
        code = 0
    finally:
        sys.argv, sys.stdin = saved
    assert isinstance(code, int), code
    return code


DB = "--database-url sqlite:///fieldops-test.sqlite3"
USER = "create-user ann --full-name Ann --role technician"

#: id, command line (after ``fieldops``), exit status, part of the message.
BAD_INVOCATIONS = [
    ("url-nonsense", "--database-url nonsense init-db", 2, "not a database URL"),
    ("url-bad-port", "--database-url postgresql://h:port/x init-db", 2, "not a database URL"),
    ("url-unknown-dialect", "--database-url foo://x init-db", 2, "does not know (foo)"),
    ("url-unknown-driver", "--database-url postgresql+nodriver://x init-db", 2, "does not know"),
    ("url-driver-missing", "--database-url mysql://h/x init-db", 2, "not installed"),
    (
        "sqlite-folder-missing",
        "--database-url sqlite:///no/such/x.db init-db",
        2,
        "does not exist",
    ),
    ("sqlite-file-is-folder", "--database-url sqlite:///folder init-db", 2, "is a folder"),
    (
        "sqlite-not-a-database",
        "--database-url sqlite:///not-a-database.sqlite3 init-db",
        1,
        "file is not a database",
    ),
    (
        "postgres-closed-port",
        "--database-url postgresql://nobody:secret@127.0.0.1:1/x init-db",
        1,
        "cannot use the database",
    ),
    ("import-scenario-missing", f"{DB} import-scenario missing.json", 2, "no such file"),
    ("import-scenario-folder", f"{DB} import-scenario folder", 2, "is a directory"),
    ("import-scenario-latin1", f"{DB} import-scenario latin1.json", 2, "not UTF-8"),
    ("import-scenario-deep", f"{DB} import-scenario deep.json", 2, "nested too deeply"),
    ("import-catalog-folder", f"{DB} import-catalog folder", 2, "is a directory"),
    ("import-catalog-latin1", f"{DB} import-catalog latin1.json", 2, "not UTF-8"),
    ("import-catalog-deep", f"{DB} import-catalog deep.json", 2, "nested too deeply"),
    ("import-requests-missing", f"{DB} import-requests missing.csv", 2, "no such file"),
    ("import-requests-folder", f"{DB} import-requests folder", 2, "is a directory"),
    ("import-requests-latin1", f"{DB} import-requests latin1.csv", 2, "not UTF-8"),
    ("export-bad-date", f"{DB} export-scenario 24/11/2026 -o x.json", 2, "DATE must look like"),
    (
        "export-no-folder",
        f"{DB} export-scenario 2026-11-24 -o no/x.json",
        2,
        "'no' does not exist",
    ),
    ("export-to-folder", f"{DB} export-scenario 2026-11-24 -o folder", 2, "is a directory"),
    ("plan-no-folder", "plan oslo.json -o no/plan.json", 2, "'no' does not exist"),
    ("plan-to-folder", "plan oslo.json -o folder", 2, "is a directory"),
    ("plan-input-folder", "plan folder", 2, "is a directory"),
    ("plan-input-latin1", "plan latin1.json", 2, "not a text file"),
    ("plan-input-deep", "plan deep.json", 2, "nested too deeply"),
    ("plan-time-limit-nan", "plan oslo.json --time-limit nan", 2, "number of seconds"),
    ("plan-time-limit-inf", "plan oslo.json --time-limit inf", 2, "not in the range"),
    ("create-user-no-terminal", f"{DB} {USER}", 2, "--password-stdin"),
    ("create-user-empty-stdin", f"{DB} {USER} --password-stdin", 2, "holds no password"),
    (
        "create-user-two-passwords",
        f"{DB} {USER} --password long-enough --password-stdin",
        2,
        "not both",
    ),
    (
        "create-user-technician-not-role",
        f"{DB} create-user ann --full-name Ann --role dispatcher --technician T-01",
        2,
        "needs --role technician",
    ),
    (
        "create-user-unknown-technician",
        f"{DB} {USER} --password long-enough --technician T-99",
        2,
        "no technician with code 'T-99'",
    ),
    ("link-unknown-user", f"{DB} link-technician nobody T-01", 2, "no user named 'nobody'"),
    ("serve-port-range", f"{DB} serve --port 70000", 2, "not in the range"),
    # A terminal passes undecodable bytes as lone surrogates; stored text must be UTF-8.
    ("url-not-utf8", "--database-url sqlite:///\udcff.db init-db", 2, "is not UTF-8 text"),
    ("username-not-utf8", f"{DB} link-technician z\udcff T-01", 2, "is not UTF-8 text"),
    ("host-not-utf8", f"{DB} serve --host \udcff", 2, "is not UTF-8 text"),
]


@pytest.mark.parametrize(
    ("command_line", "status", "message"),
    [pytest.param(*rest, id=name) for name, *rest in BAD_INVOCATIONS],
)
def test_bad_invocation_is_a_message_and_an_exit_status(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    command_line: str,
    status: int,
    message: str,
) -> None:
    """Each bad invocation exits with its status and a message naming the problem, no traceback."""
    code = run_main(command_line.split())

    printed = capsys.readouterr()
    assert code == status, printed
    assert message in printed.err
    assert "Traceback" not in printed.out + printed.err
    assert "secret" not in printed.out + printed.err


def test_bad_invocations_write_no_output_file(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused export or plan leaves no file behind, not even an empty one."""
    for command_line in (
        "plan deep.json -o plan.json",
        f"{DB} export-scenario 1999-01-01 -o day.json",
    ):
        code = run_main(command_line.split())
        assert code == 2, capsys.readouterr()
    assert not (workdir / "plan.json").exists() and not (workdir / "day.json").exists()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A local port something else already listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_serve_on_a_taken_port_is_a_message(
    workdir: Path, capsys: pytest.CaptureFixture[str], taken_port: int
) -> None:
    """A port in use is the environment's problem: one line, exit 1."""
    code = run_main([*DB.split(), "serve", "--port", str(taken_port)])

    printed = capsys.readouterr()
    assert code == 1
    assert f"cannot serve on 127.0.0.1:{taken_port}" in printed.err
    assert "Traceback" not in printed.err


def test_bad_thread_count_is_a_message(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """FIELDOPS_THREADS that is not a positive whole number is refused before serving."""
    monkeypatch.setenv("FIELDOPS_THREADS", "many")

    code = run_main([*DB.split(), "serve"])

    assert code == 2
    assert "FIELDOPS_THREADS must be a whole number" in capsys.readouterr().err


def test_console_script_reports_an_unreachable_database_in_one_line(workdir: Path) -> None:
    """The installed entry point, in its own process: exit 1, a message, no traceback."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from web.cli import main; main()",
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/none",
            "init-db",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_scenario_that_is_not_an_object_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON list where a scenario belongs is reported, not a KeyError."""
    (workdir / "list.json").write_text(json.dumps([1, 2]))

    code = run_main([*DB.split(), "import-scenario", "list.json"])

    printed = capsys.readouterr()
    assert code == 2, printed
    assert "Traceback" not in printed.err


def test_instance_folder_that_cannot_be_made_is_a_message(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """FIELDOPS_INSTANCE_PATH naming a file is reported with the variable to change, exit 2."""
    monkeypatch.setenv("FIELDOPS_INSTANCE_PATH", str(workdir / "oslo.json"))

    code = run_main(["init-db"])

    printed = capsys.readouterr()
    assert code == 2, printed
    assert "FIELDOPS_INSTANCE_PATH" in printed.err and "oslo.json" in printed.err
    assert "Traceback" not in printed.err


def test_password_on_standard_input_must_be_utf8(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Undecodable bytes piped in as a password are refused before anything is stored."""
    code = run_main(f"{DB} {USER} --password-stdin".split(), stdin="pass\udcffword\n")

    printed = capsys.readouterr()
    assert code == 2, printed
    assert "standard input is not UTF-8 text" in printed.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
@pytest.mark.parametrize(
    "command", ["plan", f"{DB} import-scenario", f"{DB} import-catalog", f"{DB} import-requests"]
)
def test_unreadable_file_is_a_message(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A file the user may not read: exit 2, "cannot read" and the reason, no traceback."""
    locked = workdir / "locked.json"
    locked.write_text("{}")
    locked.chmod(0)

    code = run_main([*command.split(), "locked.json"])

    printed = capsys.readouterr()
    assert code == 2, printed
    assert "locked.json" in printed.err and "Permission denied" in printed.err
    assert "Traceback" not in printed.err

"""The ``fieldops`` command: database set-up, scenario import/export, demo and server.

Every command that uses the database uses the same one (``--database-url``, else
``DATABASE_URL``, else the SQLite file in the instance folder), says which on its
first line, and brings its schema to the newest version first.

Expected failures (bad file, bad argument, bad scenario) end with a one-line
message and exit status 2; a database that cannot be reached with exit status 1;
never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
)
from sqlalchemy.orm import Session

from dispatch.accounts import link_technician
from dispatch.audit import set_actor
from dispatch.catalog import CatalogError, load_catalog
from dispatch.db import make_engine, utcnow
from dispatch.enums import Role
from dispatch.geocoding import CachedGeocoder
from dispatch.models import Job, ServiceRequest, Technician, User
from dispatch.request_import import CsvImportError, import_requests
from dispatch.scenario import DayExists, ScenarioError, export_scenario, import_scenario
from dispatch.schema import TARGET_METADATA, downgrade, upgrade
from dispatch.users import AccountError, create_user
from mobile_api.http import ENGINE_KEY, GEOCODER_KEY, SESSIONS_KEY
from optimizer import InvalidProblem, Priority
from optimizer.check import check
from optimizer.io import read_problem
from optimizer.plan_io import plan_document
from optimizer.solution import Solution
from optimizer.solve import SolveParams, solve
from web.app import create_app, instance_path

DEMO_PASSWORD = "fieldops-demo"
#: Staff logins of the demo: username, full name, role.
DEMO_STAFF = [
    ("dispatcher", "Dana Dispatcher", Role.DISPATCHER),
    ("warehouse", "Wes Warehouse", Role.WAREHOUSE),
    ("requester", "Rita Requester", Role.REQUESTER),
    ("admin", "Ada Admin", Role.ADMIN),
]
#: The demo's technician login works as this technician of the demo day, under their name.
DEMO_TECHNICIAN_USER = "technician"
DEMO_TECHNICIAN_CODE = "T-01"
#: Job ids printed per reason a plan leaves jobs out.
UNASSIGNED_IDS_SHOWN = 5
LONGEST_TIME_LIMIT_S = 24 * 3600.0


#: Problems listed one per line before the rest are counted ("… and N more").
PROBLEMS_SHOWN = 20


class InputError(click.ClickException):
    """Bad input from the user: message and exit status 2, like a usage error."""

    exit_code = 2

    @classmethod
    def listing(cls, headline: str, problems: list[str]) -> InputError:
        """The headline, then each problem on its own indented line, at most twenty of them."""
        shown = problems[:PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"… and {len(problems) - len(shown)} more")
        return cls(f"{headline}:\n  " + "\n  ".join(shown))


class EnvironmentFailure(click.ClickException):
    """Something outside the user's input failed (database down, port taken): exit status 1."""

    exit_code = 1


class _Text(click.ParamType):
    """A string argument that is UTF-8 text: a terminal may pass any bytes, stored text may not."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not _is_utf8(text):
            self.fail("is not UTF-8 text", param, ctx)
        return text


TEXT = _Text()


def _is_utf8(text: str) -> bool:
    """False for strings holding bytes Python could not decode (``surrogateescape``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Commands(click.Group):
    """The command group: a database error ends any command with a message, not a traceback.

    Data the database refuses is bad input that validation let through (exit 2); any
    other error (unreachable, not a database, no permission) is the environment's (exit 1).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (IntegrityError, DataError) as exc:
            raise InputError(f"the database refused the data: {exc.orig}") from None
        except DBAPIError as exc:
            raise EnvironmentFailure(f"cannot use the database: {exc.orig}") from None


@click.group(cls=_Commands)
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    type=TEXT,
    help="SQLAlchemy URL (default: DATABASE_URL, else SQLite in the instance folder).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Field-service dispatch and route optimizer.

    Every command and the app use one database: --database-url, else DATABASE_URL, else
    fieldops.sqlite3 in the instance folder (FIELDOPS_INSTANCE_PATH moves it).
    """
    ctx.obj = {"DATABASE_URL": database_url} if database_url else {}


def main() -> None:
    """Console-script entry point."""
    cli()


def _database(ctx: click.Context) -> Flask:
    """The app on this command's database, built once, its schema at the newest version.

    Prints which database it is; the engine closes with the command.
    """
    if "app" not in ctx.meta:
        config = ctx.find_object(dict) or {}
        if "DATABASE_URL" in config:
            _check_database_url(config["DATABASE_URL"])
        try:
            app = create_app(config)
        except OSError as exc:  # the instance folder cannot be made or read
            raise InputError(
                f"{exc.filename}: {exc.strerror} (the instance folder is {instance_path()};"
                " FIELDOPS_INSTANCE_PATH moves it)"
            ) from None
        engine = app.extensions[ENGINE_KEY]
        ctx.call_on_close(engine.dispose)
        click.echo(f"Database: {_shown_url(app.config['DATABASE_URL'])}")
        upgrade(engine)
        ctx.meta["app"] = app
    built: Flask = ctx.meta["app"]
    return built


def _engine(ctx: click.Context) -> Engine:
    engine: Engine = _database(ctx).extensions[ENGINE_KEY]
    return engine


@contextmanager
def _transaction(ctx: click.Context) -> Iterator[Session]:
    """A session on the command's database, committed when the block succeeds."""
    sessions = _database(ctx).extensions[SESSIONS_KEY]
    with sessions.begin() as session:
        set_actor(session, user_id=None, name=f"cli:{ctx.info_name}")
        yield session


def _check_database_url(url: str) -> None:
    """Refuse a URL that is not one, names a driver that is not installed, or a missing folder.

    The URL is not echoed: it may hold a password.
    """
    example = "for example sqlite:///path/to/fieldops.sqlite3 or postgresql://user@host/db"
    try:
        make_engine(url).dispose()  # parses, loads the dialect and its driver; connects to nothing
    except NoSuchModuleError:
        raise InputError(
            f"--database-url / DATABASE_URL names a kind of database fieldops does not know"
            f" ({make_url(url).drivername}); it supports SQLite and PostgreSQL ({example})"
        ) from None
    except (ArgumentError, ValueError):
        raise InputError(
            f"--database-url / DATABASE_URL is not a database URL ({example})"
        ) from None
    except ImportError as exc:
        raise InputError(
            f"--database-url / DATABASE_URL names a database driver that is not installed"
            f" ({exc.name}); fieldops supports SQLite and PostgreSQL ({example})"
        ) from None
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        file = Path(parsed.database)
        if file.is_dir():
            raise InputError(f"the database {file} is a folder, not a file")
        if not file.parent.is_dir():
            raise InputError(f"the database's folder {file.parent} does not exist")


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _output_path(_ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check an output file's folder before any work is done, so a long run is not wasted."""
    if value is not None and not value.parent.is_dir():
        raise click.BadParameter(f"folder {str(value.parent)!r} does not exist", param=param)
    return value


def _finite_seconds(_ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):
        raise click.BadParameter("must be a number of seconds", param=param)
    return value


def _write_text(path: Path, text: str) -> None:
    """Write the whole file or leave it as it was: a file beside it, renamed over it."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None


def _read_json(file: Path) -> Any:
    text = _read_text(file)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file} is not JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{file} is not JSON fieldops reads: nested too deeply") from None


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create the schema, or upgrade it to the newest version."""
    _database(ctx)
    click.echo("Database is at the newest schema version.")


@cli.command("import-scenario")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the jobs an earlier import wrote for the same day (all still triaged).",
)
@click.pass_context
def import_scenario_command(ctx: click.Context, file: Path, replace: bool) -> None:
    """Load a fieldops-scenario/1 day (technicians, jobs, parts, warehouses, stock)."""
    data = _read_json(file)
    try:
        with _transaction(ctx) as session:
            summary = import_scenario(session, data, replace=replace)
    except DayExists as exc:
        raise InputError(
            f"{file}: {exc.day} is imported already ({exc.jobs} imported jobs); import it"
            " with --replace to replace that day's jobs"
        ) from None
    except ScenarioError as exc:
        raise InputError.listing(f"{file} is not a valid scenario", exc.problems) from None
    replaced = f" (replacing {summary.replaced_jobs} jobs)" if replace else ""
    click.echo(
        f"Imported {data['name']} for {data['date']}{replaced}: {summary.technicians}"
        f" technicians, {summary.jobs} jobs, {summary.parts} parts,"
        f" {summary.warehouses} warehouses."
    )


@cli.command("export-scenario")
@click.argument("day", metavar="DATE")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    callback=_output_path,
)
@click.pass_context
def export_scenario_command(ctx: click.Context, day: str, output: Path) -> None:
    """Write DATE (YYYY-MM-DD) as the optimizer will see it, in fieldops-scenario/1."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise InputError(f"DATE must look like 2026-11-24, got {day!r}") from None
    try:
        with _transaction(ctx) as session:
            document = export_scenario(session, when)
    except ScenarioError as exc:
        raise InputError("; ".join(exc.problems)) from None
    _write_text(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    click.echo(f"Wrote {len(document['jobs'])} jobs for {when} to {output}.")


@cli.command("import-catalog")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_catalog_command(ctx: click.Context, file: Path) -> None:
    """Load or update the service catalog from a fieldops-catalog/1 file."""
    document = _read_json(file)
    try:
        with _transaction(ctx) as session:
            count = load_catalog(session, document)
    except CatalogError as exc:
        raise InputError.listing(f"{file} is not a valid catalog", exc.problems) from None
    click.echo(f"Catalog holds {count} items from {file}.")


@cli.command("import-requests")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_requests_command(ctx: click.Context, file: Path) -> None:
    """Raise one service request per row of a CSV file; all rows or none."""
    app = _database(ctx)
    try:
        with file.open(newline="", encoding="utf-8-sig") as lines, _transaction(ctx) as session:
            geocoder = CachedGeocoder(session, app.extensions[GEOCODER_KEY])
            created = import_requests(session, lines, geocoder=geocoder, now=utcnow())
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    except CsvImportError as exc:
        raise InputError.listing(f"{file} was not imported", exc.problems) from None
    click.echo(f"Recorded {len(created)} requests: {', '.join(r.reference for r in created)}")


@cli.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, max=LONGEST_TIME_LIMIT_S),
    default=30.0,
    show_default=True,
    callback=_finite_seconds,
    help="Seconds the optimizer may search.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_output_path,
    help="Write the plan (fieldops-plan/1) here.",
)
def plan_command(file: Path, time_limit: float, output: Path | None) -> None:
    """Plan a fieldops-scenario/1 day or a Solomon instance and print the figures."""
    try:
        problem = read_problem(file)
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    except RecursionError:
        raise InputError(f"{file} is not a problem fieldops reads: nested too deeply") from None
    except (InvalidProblem, ValueError) as exc:
        problems = exc.problems if isinstance(exc, InvalidProblem) else [str(exc)]
        raise InputError.listing(f"{file} is not a valid problem", problems) from None
    started = time.monotonic()
    solution = solve(problem, SolveParams(time_limit_s=time_limit))
    elapsed = time.monotonic() - started
    report = check(problem, solution)
    click.echo(
        f"{problem.name}: {len(problem.jobs)} jobs, {len(problem.technicians)} technicians,"
        f" planned in {elapsed:.1f} s"
    )
    for priority in Priority:
        total = report.served[priority] + report.unserved[priority]
        if total:
            click.echo(f"  {priority.value:<9} served {report.served[priority]:>5} of {total}")
    click.echo(f"  travel {report.travel_minutes:,.1f} min, late {report.late_minutes:,.1f} min")
    _echo_unassigned(solution)
    if not report.feasible:
        for violation in report.violations[:10]:
            click.echo(f"  violation [{violation.cause}] {violation.message}", err=True)
        raise click.ClickException("the plan breaks a hard rule (a bug: please report it)")
    click.echo(f"  score {report.score:,.1f}")
    if output is not None:
        _write_text(output, json.dumps(plan_document(problem, solution), indent=1) + "\n")
        click.echo(f"Wrote the plan to {output}.")


def _echo_unassigned(solution: Solution) -> None:
    """The jobs left out, grouped by reason: most frequent reason first, a few ids each."""
    if not solution.unassigned:
        return
    jobs_by_reason: dict[str, list[str]] = {}
    for item in solution.unassigned:
        jobs_by_reason.setdefault(item.reason, []).append(item.job)
    click.echo(f"  unassigned {len(solution.unassigned)} jobs:")
    for reason, jobs in sorted(jobs_by_reason.items(), key=lambda entry: -len(entry[1])):
        shown = ", ".join(jobs[:UNASSIGNED_IDS_SHOWN])
        if len(jobs) > UNASSIGNED_IDS_SHOWN:
            shown += f" and {len(jobs) - UNASSIGNED_IDS_SHOWN} more"
        click.echo(f"  {len(jobs):>5}  {reason}: {shown}")


@cli.command("create-user")
@click.argument("username", type=TEXT)
@click.option("--full-name", type=TEXT, required=True)
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
@click.option(
    "--password",
    type=TEXT,
    help="The password (left in shell history: prefer the prompt or --password-stdin).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input.",
)
@click.option(
    "--technician",
    "technician_code",
    type=TEXT,
    metavar="CODE",
    help="Sign in as this technician (with --role technician).",
)
@click.pass_context
def create_user_command(
    ctx: click.Context,
    username: str,
    full_name: str,
    roles: tuple[str, ...],
    password: str | None,
    password_stdin: bool,
    technician_code: str | None,
) -> None:
    """Add a user who can sign in; without --password, asks for it on a terminal."""
    if technician_code is not None and Role.TECHNICIAN.value not in roles:
        raise InputError("--technician needs --role technician")
    secret = _password(password, password_stdin)
    try:
        with _transaction(ctx) as session:
            user = create_user(
                session,
                username=username,
                password=secret,
                roles=[Role(r) for r in roles],
                full_name=full_name,
            )
            linked_name = (
                link_technician(session, user.username, technician_code).name
                if technician_code is not None
                else None
            )
    except AccountError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"Created {username} ({', '.join(roles)}).")
    if linked_name is not None:
        click.echo(f"{username} signs in as technician {technician_code} ({linked_name}).")
    elif Role.TECHNICIAN.value in roles:
        click.echo(
            f"The phone app shows {username} no jobs until the account is linked:"
            f" fieldops link-technician {username} CODE"
        )


def _password(given: str | None, from_stdin: bool) -> str:
    """The password from the option, standard input, or a prompt when there is a terminal."""
    if given is not None and from_stdin:
        raise InputError("give --password or --password-stdin, not both")
    if given is not None:
        return given
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n").rstrip("\r")
        if not line:
            raise InputError("--password-stdin: standard input holds no password")
        if not _is_utf8(line):
            raise InputError("--password-stdin: standard input is not UTF-8 text")
        return line
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask for the password: pipe it in with --password-stdin")
    password: str = click.prompt("Password", type=TEXT, hide_input=True, confirmation_prompt=True)
    return password


@cli.command("link-technician")
@click.argument("username", type=TEXT)
@click.argument("code", type=TEXT)
@click.pass_context
def link_technician_command(ctx: click.Context, username: str, code: str) -> None:
    """Let USERNAME (a technician account) sign in as the technician CODE."""
    try:
        with _transaction(ctx) as session:
            technician = link_technician(session, username, code)
            name = technician.name
    except AccountError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"{username} signs in as technician {code} ({name}).")


@cli.command()
@click.option("--host", type=TEXT, default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web app and the mobile API (waitress, multi-threaded)."""
    _serve(_database(ctx), host, port)


@cli.command()
@click.option("--host", type=TEXT, default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Prepare the demo day and exit.")
@click.option("-y", "--yes", is_flag=True, help="Replace a database that holds data, no question.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool, yes: bool) -> None:
    """Load the demo day and demo users into the database, then serve the app.

    A database that holds data is emptied first, after a yes (or --yes).
    """
    if not no_serve:
        _check_can_serve(host, port)  # before the database is emptied
    app = _database(ctx)
    engine = _engine(ctx)
    with _transaction(ctx) as session:
        contents = _contents(session)
    if contents:
        _confirm_replacing(contents, yes)
        downgrade(engine, "base")
        upgrade(engine)
    data = json.loads(resources.files("dispatch").joinpath("data/demo-day.json").read_text())
    catalog = json.loads(resources.files("dispatch").joinpath("data/catalog.json").read_text())
    with _transaction(ctx) as session:
        summary = import_scenario(session, data)
        load_catalog(session, catalog)  # after the day: its parts are the catalog's typical parts
        logins = _add_demo_users(session)
    url = f"http://{host}:{port}/"
    click.echo(
        f"Demo day {data['date']} ({data['name']}): {summary.technicians} technicians, "
        f"{summary.jobs} jobs."
    )
    click.echo(f"Open {url} and sign in as one of (password '{DEMO_PASSWORD}'):")
    for login in logins:
        click.echo(f"  {login}")
    if not no_serve:
        _serve(app, host, port)


def _contents(session: Session) -> str:
    """What the database holds, in a few words; empty when every table is."""
    counts = {
        "users": session.scalar(select(func.count()).select_from(User)),
        "technicians": session.scalar(select(func.count()).select_from(Technician)),
        "requests": session.scalar(select(func.count()).select_from(ServiceRequest)),
        "jobs": session.scalar(select(func.count()).select_from(Job)),
    }
    described = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    if described:
        return described
    for metadata in TARGET_METADATA:
        for table in metadata.sorted_tables:
            if session.scalar(select(func.count()).select_from(table)):
                return "data"
    return ""


def _confirm_replacing(contents: str, yes: bool) -> None:
    """Go on only when the user agrees to lose what the database holds."""
    if yes:
        return
    question = f"The database holds {contents}. Delete all of it for the demo day?"
    try:
        agreed = click.confirm(question, default=False)
    except click.Abort:
        raise InputError(
            f"the database holds {contents}; pass --yes to replace it with the demo day"
        ) from None
    if not agreed:
        raise EnvironmentFailure(
            "left the database as it was; `fieldops serve` serves it, `fieldops demo --yes`"
            " replaces it"
        )


def _add_demo_users(session: Session) -> list[str]:
    """The demo's logins, one per role; returns a line describing each."""
    lines = []
    for username, full_name, role in DEMO_STAFF:
        create_user(
            session, username=username, password=DEMO_PASSWORD, roles=[role], full_name=full_name
        )
        lines.append(f"{username:<11} {full_name} ({role.value})")
    technician = session.scalar(select(Technician).where(Technician.code == DEMO_TECHNICIAN_CODE))
    if technician is None:
        raise click.ClickException(f"the demo day has no technician {DEMO_TECHNICIAN_CODE}")
    create_user(
        session,
        username=DEMO_TECHNICIAN_USER,
        password=DEMO_PASSWORD,
        roles=[Role.TECHNICIAN],
        full_name=technician.name,
    )
    link_technician(session, DEMO_TECHNICIAN_USER, technician.code)
    lines.append(f"{DEMO_TECHNICIAN_USER:<11} {technician.name} (technician {technician.code})")
    return lines


def _serve(app: Flask, host: str, port: int) -> None:
    from waitress import serve as waitress_serve  # type: ignore[import-untyped]  # no stubs

    threads = _threads()
    _check_can_serve(host, port)
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl+C stops)")
    try:
        waitress_serve(app, host=host, port=port, threads=threads)
    except OSError as exc:  # the address was taken since the check
        raise _cannot_serve(host, port, exc) from None


def _check_can_serve(host: str, port: int) -> None:
    """Bind the address once and let go: waitress leaks its socket when it cannot bind."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[
            0
        ]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
            probe.bind(address)
    except OSError as exc:
        raise _cannot_serve(host, port, exc) from None


def _cannot_serve(host: str, port: int, error: OSError) -> EnvironmentFailure:
    return EnvironmentFailure(f"cannot serve on {host}:{port}: {error.strerror}")


def _threads() -> int:
    """Request threads: ``FIELDOPS_THREADS``, default 8."""
    configured = os.environ.get("FIELDOPS_THREADS", "8")
    if not configured.isdigit() or int(configured) < 1:
        raise InputError(f"FIELDOPS_THREADS must be a whole number from 1, got {configured!r}")
    return int(configured)

"""The ``fieldops`` command: database set-up, scenario import/export, demo and server.

Expected failures (bad file, bad scenario, unreachable database) end with a
one-line message and exit status 2 (usage and input errors) or 1 (environment),
never a traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dispatch.audit import set_actor
from dispatch.catalog import CatalogError, load_catalog
from dispatch.db import utcnow
from dispatch.enums import Role
from dispatch.geocoding import CachedGeocoder
from dispatch.models import Technician
from dispatch.request_import import CsvImportError, import_requests
from dispatch.scenario import DayExists, ScenarioError, export_scenario, import_scenario
from dispatch.schema import upgrade
from dispatch.users import AccountError, create_user
from optimizer import InvalidProblem, Priority
from optimizer.check import check
from optimizer.io import read_problem
from optimizer.plan_io import plan_document
from optimizer.solve import SolveParams, solve
from web.app import ENGINE_KEY, SESSIONS_KEY, create_app, instance_path
from web.requests import GEOCODER_KEY

DEMO_PASSWORD = "fieldops-demo"
DEMO_USERS = [
    ("dispatcher", "Dana Dispatcher", [Role.DISPATCHER]),
    ("warehouse", "Wes Warehouse", [Role.WAREHOUSE]),
    ("technician", "Terry Technician", [Role.TECHNICIAN]),
    ("requester", "Rita Requester", [Role.REQUESTER]),
    ("admin", "Ada Admin", [Role.ADMIN]),
]


class InputError(click.ClickException):
    """Bad input from the user: message and exit status 2, like a usage error."""

    exit_code = 2

    @classmethod
    def listing(cls, headline: str, problems: list[str]) -> InputError:
        """The headline, then each problem on its own indented line."""
        return cls(f"{headline}:\n  " + "\n  ".join(problems))


@click.group()
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    help="SQLAlchemy URL (default: SQLite in the instance folder).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Field-service dispatch and route optimizer."""
    ctx.obj = {"DATABASE_URL": database_url} if database_url else {}


def main() -> None:
    """Console-script entry point."""
    try:
        cli(standalone_mode=True)
    except OperationalError as exc:
        click.echo(f"Error: cannot use the database: {exc.orig}", err=True)
        raise SystemExit(1) from None


@contextmanager
def _transaction(ctx: click.Context) -> Iterator[Session]:
    """A session on the configured database, committed when the block succeeds."""
    sessions = _app(ctx).extensions[SESSIONS_KEY]
    with sessions.begin() as session:
        set_actor(session, user_id=None, name=f"cli:{ctx.info_name}")
        yield session


def _app(ctx: click.Context) -> Flask:
    """The app for this command's configuration, built once; its engine closes with the command."""
    if "app" not in ctx.meta:
        app = create_app(ctx.find_object(dict))
        ctx.call_on_close(app.extensions[ENGINE_KEY].dispose)
        ctx.meta["app"] = app
    return ctx.meta["app"]


def _engine(ctx: click.Context) -> Engine:
    return _app(ctx).extensions[ENGINE_KEY]


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create the schema, or upgrade it to the newest version."""
    upgrade(_engine(ctx))
    click.echo("Database is at the newest schema version.")


@cli.command("import-scenario")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the jobs an earlier import wrote for the same day (none may be planned).",
)
@click.pass_context
def import_scenario_command(ctx: click.Context, file: Path, replace: bool) -> None:
    """Load a fieldops-scenario/1 day (technicians, jobs, parts, warehouses, stock)."""
    data = _read_json(file)
    upgrade(_engine(ctx))
    try:
        with _transaction(ctx) as session:
            summary = import_scenario(session, data, replace=replace)
    except DayExists as exc:
        raise InputError(
            f"{file}: {exc.day} is imported already ({exc.jobs} imported jobs); import it"
            " with --replace to replace that day's jobs"
        ) from None
    except ScenarioError as exc:
        shown = exc.problems[:20]
        if len(exc.problems) > len(shown):
            shown.append(f"… and {len(exc.problems) - len(shown)} more")
        raise InputError.listing(f"{file} is not a valid scenario", shown) from None
    replaced = f" (replacing {summary.replaced_jobs} jobs)" if replace else ""
    click.echo(
        f"Imported {data['name']} for {data['date']}{replaced}: {summary.technicians}"
        f" technicians, {summary.jobs} jobs, {summary.parts} parts,"
        f" {summary.warehouses} warehouses."
    )


@cli.command("export-scenario")
@click.argument("day", metavar="DATE")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
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
    output.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    click.echo(f"Wrote {len(document['jobs'])} jobs for {when} to {output}.")


@cli.command("import-catalog")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_catalog_command(ctx: click.Context, file: Path) -> None:
    """Load or update the service catalog from a fieldops-catalog/1 file."""
    document = _read_json(file)
    upgrade(_engine(ctx))
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
    app = _app(ctx)
    upgrade(_engine(ctx))
    try:
        with file.open(newline="", encoding="utf-8-sig") as lines, _transaction(ctx) as session:
            geocoder = CachedGeocoder(session, app.extensions[GEOCODER_KEY])
            created = import_requests(session, lines, geocoder=geocoder, now=utcnow())
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text") from None
    except CsvImportError as exc:
        raise InputError.listing(f"{file} was not imported", exc.problems) from None
    click.echo(f"Recorded {len(created)} requests: {', '.join(r.reference for r in created)}")


@cli.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds the optimizer may search.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan (fieldops-plan/1) here.",
)
def plan_command(file: Path, time_limit: float, output: Path | None) -> None:
    """Plan a fieldops-scenario/1 day or a Solomon instance and print the figures."""
    try:
        problem = read_problem(file)
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
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
    if not report.feasible:
        for violation in report.violations[:10]:
            click.echo(f"  violation [{violation.cause}] {violation.message}", err=True)
        raise click.ClickException("the plan breaks a hard rule (a bug: please report it)")
    click.echo(f"  score {report.score:,.1f}")
    if output is not None:
        output.write_text(json.dumps(plan_document(problem, solution), indent=1) + "\n")
        click.echo(f"Wrote the plan to {output}.")


@cli.command("create-user")
@click.argument("username")
@click.option("--full-name", required=True)
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_context
def create_user_command(
    ctx: click.Context, username: str, full_name: str, roles: tuple[str, ...], password: str
) -> None:
    """Add a user who can sign in."""
    try:
        with _transaction(ctx) as session:
            create_user(
                session,
                username=username,
                password=password,
                roles=[Role(r) for r in roles],
                full_name=full_name,
            )
    except AccountError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"Created {username} ({', '.join(roles)}).")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web app and the mobile API (waitress, multi-threaded)."""
    app = _app(ctx)
    upgrade(_engine(ctx))
    _serve(app, host, port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool) -> None:
    """Fresh SQLite demo: the shipped demo day, demo users, and the app served."""
    database = instance_path() / "demo.sqlite3"
    database.unlink(missing_ok=True)
    ctx.obj = {"DATABASE_URL": f"sqlite:///{database}"}
    upgrade(_engine(ctx))
    data = json.loads(resources.files("dispatch").joinpath("data/demo-day.json").read_text())
    catalog = json.loads(resources.files("dispatch").joinpath("data/catalog.json").read_text())
    with _transaction(ctx) as session:
        load_catalog(session, catalog)
        summary = import_scenario(session, data)
        _add_demo_users(session)
    url = f"http://{host}:{port}/"
    click.echo(
        f"Demo day {data['date']} ({data['name']}): {summary.technicians} technicians, "
        f"{summary.jobs} jobs. Database: {database}"
    )
    click.echo(f"Open {url} and sign in as one of (password '{DEMO_PASSWORD}'):")
    for username, full_name, roles in DEMO_USERS:
        click.echo(f"  {username:<11} {full_name} ({', '.join(r.value for r in roles)})")
    if not no_serve:
        _serve(_app(ctx), host, port)


def _add_demo_users(session: Session) -> None:
    first_technician = session.scalar(select(Technician).order_by(Technician.id).limit(1))
    for username, full_name, roles in DEMO_USERS:
        user = create_user(
            session, username=username, password=DEMO_PASSWORD, roles=roles, full_name=full_name
        )
        if Role.TECHNICIAN in roles and first_technician is not None:
            first_technician.user_id = user.id


def _serve(app: Flask, host: str, port: int) -> None:
    from waitress import serve as waitress_serve

    click.echo(f"Serving on http://{host}:{port}/ (Ctrl+C stops)")
    waitress_serve(app, host=host, port=port, threads=int(os.environ.get("FIELDOPS_THREADS", 8)))


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file} is not JSON: {exc}") from None

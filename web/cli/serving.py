"""Serving the app, and the demo: the shipped day and a login per role on the default database."""

from __future__ import annotations

import json
import os
import socket
from datetime import date
from importlib import resources
from multiprocessing.process import BaseProcess

import click
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.accounts import link_technician
from dispatch.catalog import load_catalog
from dispatch.enums import Role
from dispatch.models import Job, ServiceRequest, Technician, User
from dispatch.planning.jobqueue import start_local_worker, stop_local_worker
from dispatch.scenario import import_scenario
from dispatch.schema import TARGET_METADATA, downgrade, upgrade
from dispatch.users import create_user
from mobile_api.http import ENGINE_KEY
from web.app import freeze_startup_objects
from web.cli._common import (
    TEXT,
    EnvironmentFailure,
    InputError,
    cli,
    database,
    database_engine,
    transaction,
)
from web.cli.plan import plan_day

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


@cli.command()
@click.option("--host", type=TEXT, default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web app and the mobile API (waitress, multi-threaded)."""
    _serve(database(ctx), host, port)


@cli.command()
@click.option("--host", type=TEXT, default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Prepare the demo day and exit.")
@click.option("-y", "--yes", is_flag=True, help="Replace a database that holds data, no question.")
@click.option(
    "--plan-time-limit",
    "plan_time_limit",
    type=click.IntRange(min=1, max=3600),
    default=10,
    show_default=True,
    help="Seconds the optimizer may search for the demo day's plan.",
)
@click.pass_context
def demo(
    ctx: click.Context, host: str, port: int, no_serve: bool, yes: bool, plan_time_limit: int
) -> None:
    """Load the demo day and demo users, plan and publish the day, then serve the app.

    A database that holds data is emptied first, after a yes (or --yes).
    """
    if not no_serve:
        _check_can_serve(host, port)  # before the database is emptied
    app = database(ctx)
    engine = database_engine(ctx)
    with transaction(ctx) as session:
        contents = _contents(session)
    if contents:
        _confirm_replacing(contents, yes)
        downgrade(engine, "base")
        upgrade(engine)
    data = json.loads(resources.files("dispatch").joinpath("data/demo-day.json").read_text())
    catalog = json.loads(resources.files("dispatch").joinpath("data/catalog.json").read_text())
    with transaction(ctx) as session:
        summary = import_scenario(session, data)
        load_catalog(session, catalog)  # after the day: its parts are the catalog's typical parts
        logins = _add_demo_users(session)
    url = f"http://{host}:{port}/"
    click.echo(
        f"Demo day {data['date']} ({data['name']}): {summary.technicians} technicians, "
        f"{summary.jobs} jobs."
    )
    plan_day(
        ctx,
        date.fromisoformat(data["date"]),
        time_limit_s=plan_time_limit,
        publish_it=True,
        reason="fieldops demo",
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
    worker = _start_local_worker(app)
    freeze_startup_objects()
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl+C stops)")
    try:
        waitress_serve(app, host=host, port=port, threads=threads)
    except OSError as exc:  # the address was taken since the check
        raise _cannot_serve(host, port, exc) from None
    finally:
        if worker is not None:
            stop_local_worker(worker)


def _start_local_worker(app: Flask) -> BaseProcess | None:
    """On SQLite the plan runs' worker is a process of the server's; PostgreSQL has its own."""
    if app.extensions[ENGINE_KEY].dialect.name != "sqlite":
        click.echo("Plan runs: executed by `fieldops worker` processes (procrastinate)")
        return None
    worker = start_local_worker(app.config["DATABASE_URL"])
    click.echo(f"Plan runs: executed by the local worker (process {worker.pid})")
    return worker


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
    """Request threads: ``FIELDOPS_THREADS``, default 32 (each open event stream holds one)."""
    configured = os.environ.get("FIELDOPS_THREADS", "32")
    if not configured.isdigit() or int(configured) < 1:
        raise InputError(f"FIELDOPS_THREADS must be a whole number from 1, got {configured!r}")
    return int(configured)

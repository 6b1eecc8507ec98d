"""Commands that load and write data: the schema, scenario days, the catalog, CSV requests."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import click

from dispatch.catalog import CatalogError, load_catalog
from dispatch.db import utcnow
from dispatch.geocoding import CachedGeocoder
from dispatch.request_import import CsvImportError, import_requests
from dispatch.scenario import DayExists, ScenarioError, export_scenario, import_scenario
from mobile_api.http import GEOCODER_KEY
from web.cli._common import (
    InputError,
    cli,
    database,
    iso_date,
    output_path,
    read_json,
    read_text,
    transaction,
    write_text,
)


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create the schema, or upgrade it to the newest version."""
    database(ctx)
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
    data = read_json(file)
    try:
        with transaction(ctx) as session:
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
@click.argument("day", metavar="DATE", callback=iso_date)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    callback=output_path,
)
@click.pass_context
def export_scenario_command(ctx: click.Context, day: date, output: Path) -> None:
    """Write DATE (YYYY-MM-DD) as the optimizer will see it, in fieldops-scenario/1."""
    try:
        with transaction(ctx) as session:
            document = export_scenario(session, day)
    except ScenarioError as exc:
        raise InputError("; ".join(exc.problems)) from None
    write_text(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    click.echo(f"Wrote {len(document['jobs'])} jobs for {day} to {output}.")


@cli.command("import-catalog")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_catalog_command(ctx: click.Context, file: Path) -> None:
    """Load or update the service catalog from a fieldops-catalog/1 file."""
    document = read_json(file)
    try:
        with transaction(ctx) as session:
            count = load_catalog(session, document)
    except CatalogError as exc:
        raise InputError.listing(f"{file} is not a valid catalog", exc.problems) from None
    click.echo(f"Catalog holds {count} items from {file}.")


@cli.command("import-requests")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_requests_command(ctx: click.Context, file: Path) -> None:
    """Raise one service request per row of a CSV file; all rows or none."""
    lines = io.StringIO(read_text(file), newline="")  # the csv module reads line ends itself
    app = database(ctx)
    try:
        with transaction(ctx) as session:
            geocoder = CachedGeocoder(session, app.extensions[GEOCODER_KEY])
            created = import_requests(session, lines, geocoder=geocoder, now=utcnow())
    except CsvImportError as exc:
        raise InputError.listing(f"{file} was not imported", exc.problems) from None
    click.echo(f"Recorded {len(created)} requests: {', '.join(r.reference for r in created)}")

"""Commands for warehouse staff: the day's pick lists, confirming them, reorder suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from dispatch.days import service_area_zone
from dispatch.db import utcnow
from dispatch.planning.proposals import published
from dispatch.stock import actor_of, job_references
from inventory.ledger import InventoryError
from inventory.models import LocationKind, MovementKind
from inventory.picklists import PickLine, confirm_pick_list, pick_list, picklist_csv
from inventory.replenishment import Suggestion, reorder_suggestions, suggestions_csv
from web.cli._common import (
    TEXT,
    InputError,
    cli,
    iso_date,
    output_path,
    transaction,
    write_text,
)

#: The printable pick list is a file of its own, not a page of the app: rendered here.
TEMPLATES = Environment(
    loader=PackageLoader("web.cli", "documents"), autoescape=True, undefined=StrictUndefined
)


@cli.command("picklist")
@click.argument("day", metavar="DATE", callback=iso_date)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of printable HTML.")
@click.option("--van", "van_code", type=TEXT, metavar="CODE", help="Only this van's list.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=output_path,
    help="Write the list here instead of printing it.",
)
@click.pass_context
def picklist_command(
    ctx: click.Context, day: date, as_csv: bool, van_code: str | None, output: Path | None
) -> None:
    """What each van loads at which warehouse for the published plan of DATE (YYYY-MM-DD).

    The planned jobs' parts less what the vans hold, per van and warehouse in route
    order: printable HTML, or CSV with --csv.
    """
    with transaction(ctx) as session:
        version = _published_version(session, day)
        try:
            lines = pick_list(session, day, van_code=van_code)
        except InventoryError as exc:
            raise InputError(str(exc)) from None
        references = job_references(session, (job for line in lines for job in line.job_ids))
    if as_csv:
        text = picklist_csv(lines, references)
    else:
        text = TEMPLATES.get_template("picklist.html").render(
            day=day, version=version, van=van_code, vans=_grouped(lines, references)
        )
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)
        click.echo(f"Wrote the pick list of {day} ({len(lines)} lines) to {output}.")


@cli.command("picklist-confirm")
@click.argument("day", metavar="DATE", callback=iso_date)
@click.option("--van", "van_code", type=TEXT, metavar="CODE", required=True)
@click.option(
    "--warehouse",
    "warehouse_code",
    type=TEXT,
    metavar="CODE",
    help="Only what the van loaded at this warehouse.",
)
@click.pass_context
def picklist_confirm_command(
    ctx: click.Context, day: date, van_code: str, warehouse_code: str | None
) -> None:
    """Record that a van loaded its pick list of DATE: the transfers into the van are posted.

    Units a warehouse was short of stay on the list; confirming again loads nothing
    more until they arrive.
    """
    with transaction(ctx) as session:
        _published_version(session, day)
        try:
            movements = confirm_pick_list(
                session, day, van_code, warehouse_code=warehouse_code, actor=actor_of(session)
            )
        except InventoryError as exc:
            raise InputError(str(exc)) from None
        loaded: dict[tuple[str, str], int] = {}
        for movement in movements:
            if movement.kind == MovementKind.TRANSFER_OUT:
                key = (movement.location.code, movement.part.sku)
                loaded[key] = loaded.get(key, 0) - movement.on_hand_change
    if not loaded:
        click.echo(f"Nothing to load into {van_code} on {day}.")
        return
    click.echo(f"Loaded into {van_code} for {day}:")
    for (warehouse, sku), units in loaded.items():
        click.echo(f"  {warehouse:<12} {sku:<20} {units:>6}")


@cli.command("reorder")
@click.option(
    "--horizon-days",
    type=click.IntRange(min=0, max=366),
    default=7,
    show_default=True,
    help="Count reservations from today up to this many days ahead.",
)
@click.option(
    "--today",
    metavar="DATE",
    callback=lambda ctx, param, value: None if value is None else iso_date(ctx, param, value),
    help="The day to count from (default: today on the service area's clock).",
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table.")
@click.pass_context
def reorder_command(
    ctx: click.Context, horizon_days: int, today: date | None, as_csv: bool
) -> None:
    """Parts at or below their reorder point once the coming days' reservations are taken:
    how many to order (warehouses) or to transfer from which warehouse (vans)."""
    with transaction(ctx) as session:
        start = today or utcnow().astimezone(service_area_zone(session)).date()
        suggestions = reorder_suggestions(session, today=start, horizon_days=horizon_days)
    if as_csv:
        click.echo(suggestions_csv(suggestions), nl=False)
        return
    if not suggestions:
        click.echo(
            f"Nothing to reorder: every rule is above its point ({start} + {horizon_days} d)."
        )
        return
    click.echo(f"Reorder suggestions from {start}, reservations up to {horizon_days} days ahead:")
    click.echo(
        f"  {'location':<12} {'sku':<16} {'on hand':>7} {'ahead':>6} {'projected':>9}"
        f" {'point':>6} {'suggest':>7}  from"
    )
    for s in suggestions:
        click.echo(
            f"  {s.location:<12} {s.sku:<16} {s.on_hand:>7} {s.reserved_ahead:>6}"
            f" {s.projected:>9} {s.reorder_point:>6} {s.suggested:>7}  {_source(s)}"
        )


def _source(suggestion: Suggestion) -> str:
    if suggestion.kind == LocationKind.WAREHOUSE:
        return "supplier"
    return suggestion.source or "no warehouse has any"


def _published_version(session: Session, day: date) -> int:
    """The published version of ``day``; a day never published is refused."""
    current = published(session, day)
    if current is None:
        raise InputError(
            f"no plan of {day} is published; plan it with: fieldops plan-day {day} --publish"
        )
    return current[0]


def _grouped(lines: Sequence[PickLine], references: dict[int, str]) -> list[dict[str, Any]]:
    """Vans, each with its warehouses in the order it first calls at them, with their lines."""
    vans: dict[str, dict[str, Any]] = {}
    for line in lines:
        van = vans.setdefault(line.van, {"code": line.van, "name": line.van_name, "at": {}})
        warehouse = van["at"].setdefault(
            line.warehouse, {"code": line.warehouse, "name": line.warehouse_name, "lines": []}
        )
        warehouse["lines"].append(
            {"line": line, "jobs": [references.get(job, str(job)) for job in line.job_ids]}
        )
    return [{**van, "warehouses": list(van["at"].values())} for van in vans.values()]

"""Warehouse pages: stock by location, the day's pick lists (printable, confirmed here),
receipts, transfers and reorder suggestions.

They call the inventory services the JSON API calls (``web.inventory_api``). A form the
services refuse is shown again with each refusal at the field it concerns (422, nothing
written); a posting that succeeds redirects with a message (Post/Redirect/Get).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from dispatch.days import service_area_zone
from dispatch.db import utcnow
from dispatch.enums import Role
from dispatch.models import Technician
from dispatch.stock import actor_of, job_references
from inventory import ledger
from inventory.ledger import MAX_QUANTITY, InsufficientStock, InventoryError, UnknownLocation
from inventory.models import LocationKind, Movement, MovementKind
from inventory.picklists import PickLine, confirm_pick_list, pick_list
from inventory.replenishment import reorder_suggestions
from inventory.service import parts, stock_locations, stock_rows
from mobile_api.http import login_required
from web.plans_api import day_in_path

bp = Blueprint("warehouse", __name__, url_prefix="/warehouse")

#: Who may open these pages (admins too).
STAFF = (Role.WAREHOUSE,)
#: Longest SKU or location code (their columns' length).
MAX_CODE = 40
#: Days ahead whose reservations the reorder suggestions count.
REORDER_HORIZON_DAYS = 7
#: A quantity as typed: a whole number, its range left to the ledger.
WHOLE = re.compile(r"-?[0-9]{1,20}")

#: Form field of each field the ledger names in a receipt's problems.
RECEIPT_FIELDS = {"location": "location", "sku": "sku", "quantity": "quantity", "reason": "reason"}
#: The same for a transfer.
TRANSFER_FIELDS = {
    "destination": "destination",
    "sku": "sku",
    "quantity": "quantity",
    "reason": "reason",
}


@bp.get("")
@login_required(*STAFF)
def stock() -> Any:
    """One location's parts: on hand, reserved, available, reorder point, low ones marked."""
    locations = stock_locations(g.db)
    code = request.args.get("location") or (locations[0].code if locations else None)
    chosen = next((location for location in locations if location.code == code), None)
    if code is not None and chosen is None:
        raise NotFound(f"no stock location {code!r}")
    part_text = request.args.get("part", "").strip()
    rows = (
        stock_rows(g.db, location_id=chosen.id, part_text=part_text or None)
        if chosen is not None
        else []
    )
    return render_template(
        "warehouse/stock.html",
        locations=locations,
        chosen=chosen,
        part_text=part_text,
        rows=rows,
        now=_now(),
    )


@bp.get("/picklists")
@login_required(*STAFF)
def picklists_tomorrow() -> Any:
    """Tomorrow's pick lists, tomorrow on the service area's clock."""
    tomorrow = _now().date() + timedelta(days=1)
    return redirect(url_for("warehouse.picklists", day=tomorrow.isoformat()))


@bp.get("/picklists/<day>")
@login_required(*STAFF)
def picklists(day: str) -> Any:
    """What each van picks up at which warehouse on the day, to print and to confirm."""
    return _picklists_page(day_in_path(day))


@bp.post("/picklists/<day>/confirm")
@login_required(*STAFF)
def confirm_picklist(day: str) -> Any:
    """A van is loaded: post its transfers and move its holds into the van."""
    when = day_in_path(day)
    van = request.form.get("van", "").strip()
    try:
        posted = confirm_pick_list(g.db, when, van, actor=actor_of(g.db))
    except InventoryError as exc:
        g.db.rollback()
        return _picklists_page(when, refused={van: exc.problems}), 422
    g.db.commit()
    loaded = sum(m.on_hand_change for m in posted if m.kind == MovementKind.TRANSFER_IN)
    flash(
        f"{van}: {loaded} units loaded for {when.isoformat()}."
        if loaded
        else f"{van}: nothing held for {when.isoformat()} was left to load."
    )
    return redirect(url_for("warehouse.picklists", day=when.isoformat()))


@bp.route("/receive", methods=["GET", "POST"])
@login_required(*STAFF)
def receive() -> Any:
    """Book a delivery of one part into a warehouse."""
    form = request.form if request.method == "POST" else request.args
    errors: dict[str, str] = {}
    if request.method == "POST":
        sku, quantity = _line(form, errors)
        location = form.get("location", "")
        if _post(
            lambda: ledger.receive(
                g.db,
                location,
                [(sku, quantity)],
                actor=actor_of(g.db),
                reason=form.get("reason", ""),
            ),
            form,
            errors,
            RECEIPT_FIELDS,
        ):
            flash(f"Received {quantity} × {sku} into {location}.")
            return redirect(url_for("warehouse.receive", location=location))
    warehouses = [
        location for location in stock_locations(g.db) if location.kind == LocationKind.WAREHOUSE
    ]
    return _form_page("warehouse/receive.html", form, errors, locations=warehouses)


@bp.route("/transfer", methods=["GET", "POST"])
@login_required(*STAFF)
def transfer() -> Any:
    """Move available stock of one part between two locations."""
    form = request.form if request.method == "POST" else request.args
    errors: dict[str, str] = {}
    if request.method == "POST":
        sku, quantity = _line(form, errors)
        source, destination = form.get("source", ""), form.get("destination", "")
        if _post(
            lambda: ledger.transfer(
                g.db,
                source,
                destination,
                [(sku, quantity)],
                actor=actor_of(g.db),
                reason=form.get("reason", ""),
            ),
            form,
            errors,
            TRANSFER_FIELDS,
        ):
            flash(f"Moved {quantity} × {sku} from {source} to {destination}.")
            return redirect(url_for("warehouse.transfer", source=source))
    return _form_page("warehouse/transfer.html", form, errors, locations=stock_locations(g.db))


@bp.get("/reorder")
@login_required(*STAFF)
def reorder() -> Any:
    """What to order for the warehouses and send to the vans, counting the days ahead."""
    today = _now().date()
    return render_template(
        "warehouse/reorder.html",
        today=today,
        until=today + timedelta(days=REORDER_HORIZON_DAYS),
        suggestions=reorder_suggestions(g.db, today=today, horizon_days=REORDER_HORIZON_DAYS),
    )


def _now() -> datetime:
    """Now on the service area's clock."""
    return utcnow().astimezone(service_area_zone(g.db))


def _picklists_page(day: date, *, refused: Mapping[str, list[str]] | None = None) -> str:
    """The day's pick lists by van, then warehouse in route order; ``refused`` by van."""
    lines = pick_list(g.db, day)
    vans: dict[str, dict[str, list[PickLine]]] = {}
    for line in lines:
        vans.setdefault(line.van, {}).setdefault(line.warehouse, []).append(line)
    technician_ids = sorted({line.technician_id for line in lines if line.technician_id})
    technicians = {
        technician.id: technician
        for technician in g.db.scalars(select(Technician).where(Technician.id.in_(technician_ids)))
    }
    first = {line.van: line for line in reversed(lines)}
    return render_template(
        "warehouse/picklists.html",
        day=day,
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
        vans=vans,
        first=first,
        technicians=technicians,
        references=job_references(g.db, (job for line in lines for job in line.job_ids)),
        refused=refused or {},
        now=_now(),
    )


def _line(form: MultiDict[str, str], errors: dict[str, str]) -> tuple[str, int]:
    """The form's SKU and quantity as the ledger takes them; what cannot be read goes
    to ``errors`` (the ledger judges the rest: unknown SKU, quantity out of range)."""
    sku = form.get("sku", "").strip()
    if len(sku) > MAX_CODE:
        errors["sku"] = f"unknown part: a SKU has at most {MAX_CODE} characters"
    text = form.get("quantity", "").strip()
    if not WHOLE.fullmatch(text):
        errors["quantity"] = f"give a whole number from 1 to {MAX_QUANTITY}"
        return sku, 0
    return sku, int(text)


def _post(
    post: Callable[[], list[Movement]],
    form: MultiDict[str, str],
    errors: dict[str, str],
    fields: Mapping[str, str],
) -> bool:
    """Run a posting and commit it, unless ``errors`` already holds what the form could
    not read; a refusal is rolled back and put in ``errors`` by form field.

    The ledger stops at its first kind of problem; the reason is also checked on its
    own, so that every field's problem shows at once.
    """
    if not errors:
        try:
            post()
        except InventoryError as exc:
            g.db.rollback()
            _file(exc, form, errors, fields)
        else:
            g.db.commit()
            return True
    if "reason" not in errors:
        try:
            ledger.checked_reason(form.get("reason", ""))
        except InventoryError as exc:
            _file(exc, form, errors, fields)
    return False


def _file(
    exc: InventoryError,
    form: MultiDict[str, str],
    errors: dict[str, str],
    fields: Mapping[str, str],
) -> None:
    """Put the ledger's problems in ``errors`` by form field: each problem names its
    field before a colon (``fields`` maps those names to the form's); an unknown
    location goes to the field naming it, stock too short to the quantity."""
    if isinstance(exc, InsufficientStock):
        errors["quantity"] = str(exc)
    elif isinstance(exc, UnknownLocation):
        named = [
            name for name in ("location", "source", "destination") if form.get(name) == exc.code
        ]
        errors[named[0] if named else ""] = f"no stock location {exc.code!r}"
    else:
        for problem in exc.problems:
            key, _, message = problem.partition(": ")
            name = fields.get(key.removeprefix("lines[0]."), "")
            errors[name] = "; ".join(filter(None, (errors.get(name), message or problem)))


def _form_page(
    template: str, form: MultiDict[str, str], errors: Mapping[str, str], **context: Any
) -> Any:
    """A receive or transfer form as typed, with its errors (422 when it has some)."""
    page = render_template(
        template,
        form=form,
        errors=errors,
        parts=parts(g.db),
        max_quantity=MAX_QUANTITY,
        **context,
    )
    return page, 422 if errors else 200

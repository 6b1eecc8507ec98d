"""The warehouse staff's JSON API: stock, the ledger, receipts, transfers, counts, pick lists,
reorder suggestions, CSV import and export, under ``/api/v1/inventory``.

Warehouse staff (and admins) read and write everything; dispatchers read; a technician
reads the parts catalogue and only their own van (its stock, ledger, pick list, reorder
suggestions and stock file; any other location is 404 to them) and writes nothing. Every
write is one transaction: a refused request (4xx problem+json naming each problem)
leaves no ledger row behind.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from flask import Blueprint, Response, g, request, url_for
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import aliased
from werkzeug.exceptions import BadRequest, NotFound

from dispatch.days import service_area_zone
from dispatch.db import utcnow
from dispatch.enums import Role
from dispatch.models import Job, Technician
from dispatch.stock import actor_of, job_references
from inventory import csvio, ledger
from inventory.ledger import MAX_QUANTITY, InsufficientStock, InventoryError
from inventory.models import (
    LocationKind,
    Movement,
    MovementKind,
    Part,
    StockLocation,
)
from inventory.picklists import PickLine, confirm_pick_list, pick_list, picklist_csv
from inventory.replenishment import reorder_suggestions
from inventory.service import stock_locations, stock_rows
from mobile_api.http import field_errors, login_required, problem_response, user_may
from web.plans_api import DATE_PATTERN, day_in_path

bp = Blueprint("inventory_api", __name__, url_prefix="/api/v1/inventory")

#: Who may post movements and import files.
WRITERS = (Role.WAREHOUSE,)
#: Who may read: writers, dispatchers, and technicians (their own van only).
READERS = (Role.WAREHOUSE, Role.DISPATCHER, Role.TECHNICIAN)
#: Most lines one request may carry, and rows one page gives.
MAX_LINES = 500
MAX_PAGE = 500
#: A whole number in a query string (``str.isdigit`` also admits digits ``int`` cannot read).
WHOLE = re.compile(r"[0-9]{1,18}")

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Quantity = Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Line(_Body):
    sku: Code
    quantity: Quantity


class CountLine(_Body):
    sku: Code
    counted: Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY)]


class Receipt(_Body):
    location: Code
    reason: Reason
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]


class Transfer(_Body):
    source: Code = Field(alias="from")
    to: Code
    reason: Reason
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]


class Count(_Body):
    location: Code
    reason: Reason
    lines: Annotated[list[CountLine], Field(min_length=1, max_length=MAX_LINES)]


class Confirm(_Body):
    van: Code
    warehouse: Code | None = None


@bp.get("/locations")
@login_required(*READERS)
def locations() -> Any:
    """Warehouses and vans (a technician: their own van)."""
    own = _own_van_id()
    return {
        "locations": [
            _location(location)
            for location in stock_locations(g.db)
            if own is None or location.id == own
        ]
    }


@bp.get("/parts")
@login_required(*READERS)
def parts() -> Any:
    return {
        "parts": [
            {
                "sku": part.sku,
                "name": part.name,
                "unit": part.unit,
                "unit_cost": None if part.unit_cost is None else str(part.unit_cost),
            }
            for part in g.db.scalars(select(Part).order_by(Part.sku))
        ]
    }


@bp.get("/stock")
@login_required(*READERS)
def stock() -> Any:
    """Balances by location and part: on hand, reserved, available, reorder rule.

    Filters: ``location``, ``sku``, ``below_reorder=true`` (at or below the reorder
    point). Paged in (location code, SKU) order: ``limit`` and the ``after`` cursor of
    the previous page's ``next`` link. Locations with none of a part and no rule for
    it are left out.
    """
    limit = _limit()
    location_id = _own_van_id()
    if location := request.args.get("location"):
        location_id = _readable(location).id
    found = stock_rows(
        g.db,
        location_id=location_id,
        sku=request.args.get("sku") or None,
        below_reorder=_flag("below_reorder"),
        after=_cursor(request.args["after"]) if "after" in request.args else None,
        limit=limit + 1,
    )
    rows = [
        {
            "location": row.location,
            "sku": row.sku,
            "name": row.name,
            "unit": row.unit,
            "on_hand": row.on_hand,
            "reserved": row.reserved,
            "available": row.available,
            "reorder_point": row.reorder_point,
            "reorder_quantity": row.reorder_quantity,
        }
        for row in found[:limit]
    ]
    last = found[limit - 1] if len(found) > limit else None
    cursor = _encode_cursor(last.location, last.sku) if last else None
    return {"stock": rows, "next": _next_link("inventory_api.stock", cursor)}


@bp.get("/movements")
@login_required(*READERS)
def movements() -> Any:
    """The ledger, newest first. Filters: ``location``, ``sku``, ``kind``, ``job`` (a job
    reference), ``flagged=true``, ``since`` and ``until`` (ISO 8601 instants or dates);
    paged with ``limit`` and the ``before`` cursor of the ``next`` link."""
    limit = _limit()
    counterpart = aliased(StockLocation)
    query = (
        select(Movement, StockLocation.code, counterpart.code, Part.sku)
        .join(StockLocation, StockLocation.id == Movement.location_id)
        .outerjoin(counterpart, counterpart.id == Movement.counterpart_id)
        .join(Part, Part.id == Movement.part_id)
        .order_by(Movement.id.desc())
    )
    if location := request.args.get("location"):
        query = query.where(Movement.location_id == _readable(location).id)
    elif (own := _own_van_id()) is not None:
        query = query.where(Movement.location_id == own)
    if sku := request.args.get("sku"):
        query = query.where(Part.sku == sku)
    if kind := request.args.get("kind"):
        if kind not in MovementKind.__members__.values():
            raise _bad_query("kind", f"one of {', '.join(MovementKind)}")
        query = query.where(Movement.kind == MovementKind(kind))
    if reference := request.args.get("job"):
        job_id = g.db.scalar(select(Job.id).where(Job.reference == reference))
        query = query.where(Movement.job_id == (job_id if job_id is not None else -1))
    if _flag("flagged"):
        query = query.where(Movement.flagged.is_(True))
    if since := request.args.get("since"):
        query = query.where(Movement.occurred_at >= _instant("since", since))
    if until := request.args.get("until"):
        query = query.where(Movement.occurred_at < _instant("until", until, end=True))
    if "before" in request.args:
        query = query.where(
            Movement.id < _whole("before", expected="a movement id from a next link")
        )
    found = g.db.execute(query.limit(limit + 1)).all()
    page = found[:limit]
    references = job_references(g.db, (m.job_id for m, *_ in page if m.job_id is not None))
    rows = [
        _movement(movement, code, other, sku, references) for movement, code, other, sku in page
    ]
    cursor = str(page[-1][0].id) if len(found) > limit else None
    return {"movements": rows, "next": _next_link("inventory_api.movements", cursor, "before")}


@bp.post("/receipts")
@login_required(*WRITERS)
def receive() -> Any:
    """Book a delivery into a warehouse."""
    body = _body(Receipt)
    if isinstance(body, Response):
        return body
    lines = [(line.sku, line.quantity) for line in body.lines]
    return _posted(
        lambda: ledger.receive(
            g.db, body.location, lines, actor=actor_of(g.db), reason=body.reason
        )
    )


@bp.post("/transfers")
@login_required(*WRITERS)
def transfer() -> Any:
    """Move available stock between two locations (a van's load, a return to the warehouse)."""
    body = _body(Transfer)
    if isinstance(body, Response):
        return body
    lines = [(line.sku, line.quantity) for line in body.lines]
    return _posted(
        lambda: ledger.transfer(
            g.db, body.source, body.to, lines, actor=actor_of(g.db), reason=body.reason
        )
    )


@bp.post("/counts")
@login_required(*WRITERS)
def count() -> Any:
    """Post a cycle count: each line's difference to the books, as an adjustment."""
    body = _body(Count)
    if isinstance(body, Response):
        return body
    lines = [(line.sku, line.counted) for line in body.lines]
    return _posted(
        lambda: ledger.count(g.db, body.location, lines, actor=actor_of(g.db), reason=body.reason)
    )


@bp.get("/picklists/<day>")
@login_required(*READERS)
def picklist(day: str) -> Any:
    """The day's pick list (``?van=``; ``?format=csv``); a technician gets their van's."""
    when = day_in_path(day)
    output = request.args.get("format", "json")
    if output not in ("json", "csv"):
        raise _bad_query("format", "json or csv")
    van_code = request.args.get("van")
    if van_code is not None:
        van_code = _readable(van_code).code
    elif (own := _own_van_id()) is not None:
        mine = g.db.get(StockLocation, own)
        if mine is None:
            raise NotFound("you have no van")
        van_code = mine.code
    try:
        lines = pick_list(g.db, when, van_code=van_code)
    except InventoryError as exc:
        return _refused(exc)
    references = job_references(g.db, (job for line in lines for job in line.job_ids))
    if output == "csv":
        return Response(picklist_csv(lines, references), mimetype="text/csv")
    return {"service_date": when.isoformat(), "lines": [_pick(line, references) for line in lines]}


@bp.post("/picklists/<day>/confirm")
@login_required(*WRITERS)
def confirm_picklist(day: str) -> Any:
    """A van's list is loaded: post the transfers and move its holds into the van."""
    when = day_in_path(day)
    body = _body(Confirm)
    if isinstance(body, Response):
        return body
    return _posted(
        lambda: confirm_pick_list(
            g.db, when, body.van, warehouse_code=body.warehouse, actor=actor_of(g.db)
        )
    )


@bp.get("/reorder-suggestions")
@login_required(*READERS)
def reorder() -> Any:
    """What to order or send where (``horizon_days``, default 7: reservations counted);
    a technician gets their van's."""
    horizon = _whole("horizon_days", default=7, highest=90)
    today = utcnow().astimezone(service_area_zone(g.db)).date()
    suggestions = reorder_suggestions(g.db, today=today, horizon_days=horizon)
    if (own := _own_van_id()) is not None:
        mine = g.db.get(StockLocation, own)
        suggestions = [s for s in suggestions if mine is not None and s.location == mine.code]
    return {
        "today": today.isoformat(),
        "suggestions": [
            {
                "location": s.location,
                "kind": s.kind.value,
                "sku": s.sku,
                "name": s.name,
                "on_hand": s.on_hand,
                "reserved_ahead": s.reserved_ahead,
                "projected": s.projected,
                "reorder_point": s.reorder_point,
                "reorder_quantity": s.reorder_quantity,
                "suggested": s.suggested,
                "source": s.source,
            }
            for s in suggestions
        ],
    }


@bp.get("/parts.csv")
@login_required(*READERS)
def export_parts() -> Any:
    return Response(csvio.export_parts(g.db), mimetype="text/csv")


@bp.get("/stock.csv")
@login_required(*READERS)
def export_stock() -> Any:
    """The file ``POST /stock.csv`` reads; a technician gets their van's lines."""
    return Response(csvio.export_stock(g.db, location_id=_own_van_id()), mimetype="text/csv")


@bp.post("/parts.csv")
@login_required(*WRITERS)
def import_parts() -> Any:
    """Create or update parts from CSV (``sku,name,unit,unit_cost``): all rows or none."""
    return _imported(lambda text: csvio.import_parts(g.db, text))


@bp.post("/stock.csv")
@login_required(*WRITERS)
def import_stock() -> Any:
    """Set stock on hand and reorder rules from CSV: all rows or none, counts in the ledger."""
    return _imported(lambda text: csvio.import_stock(g.db, text, actor=actor_of(g.db)))


def _imported(apply: Any) -> Any:
    if request.mimetype != "text/csv":
        return problem_response(415, "Unsupported Media Type", "send the file as text/csv")
    try:
        text = request.get_data(as_text=False).decode("utf-8")
    except UnicodeDecodeError:
        return problem_response(400, "Bad Request", "the file is not UTF-8 text")
    try:
        rows = apply(text)
    except csvio.CsvRefused as exc:
        g.db.rollback()
        return problem_response(
            422,
            "File refused",
            f"{exc}; nothing was imported",
            errors=[{"row": e.row, "column": e.column, "message": e.message} for e in exc.errors],
        )
    g.db.commit()
    return {"rows": rows}


def _posted(post: Any) -> Any:
    """Run a posting; 201 with its rows, or the problem (nothing written)."""
    try:
        posted = post()
    except InventoryError as exc:
        g.db.rollback()
        return _refused(exc)
    g.db.commit()
    references = job_references(g.db, (m.job_id for m in posted if m.job_id is not None))
    return {
        "movements": [
            _movement(
                m,
                m.location.code,
                m.counterpart.code if m.counterpart else None,
                m.part.sku,
                references,
            )
            for m in posted
        ]
    }, 201


def _refused(exc: InventoryError) -> Response:
    if isinstance(exc, InsufficientStock):
        return problem_response(
            409,
            "Not enough stock",
            str(exc),
            location=exc.location,
            sku=exc.sku,
            wanted=exc.wanted,
            available=exc.available,
        )
    return problem_response(
        422,
        "Movement refused",
        "; ".join(exc.problems),
        errors=[{"message": problem} for problem in exc.problems],
    )


def _body(model: type[_Body]) -> Any:
    """The JSON body as ``model``, or the 400/422 problem naming each bad field."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return problem_response(400, "Bad Request", "send a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", detail, errors=errors)


def _own_van_id() -> int | None:
    """For a user who reads only their own van: its id (-1 when they have none)."""
    if user_may(g.user, (Role.WAREHOUSE, Role.DISPATCHER)):
        return None
    technician = g.db.scalar(select(Technician.id).where(Technician.user_id == g.user.id))
    van = (
        g.db.scalar(
            select(StockLocation.id).where(
                StockLocation.kind == LocationKind.VAN, StockLocation.technician_id == technician
            )
        )
        if technician is not None
        else None
    )
    return -1 if van is None else van


def _readable(code: str) -> StockLocation:
    """The location the user asked for, if they may read it; 404 otherwise."""
    location = g.db.scalar(select(StockLocation).where(StockLocation.code == code))
    own = _own_van_id()
    if location is None or (own is not None and location.id != own):
        raise NotFound(f"no stock location {code!r}")
    return location


def _limit() -> int:
    return _whole("limit", default=100, lowest=1, highest=MAX_PAGE)


def _whole(
    name: str,
    *,
    default: int | None = None,
    lowest: int = 0,
    highest: int = 2**63 - 1,
    expected: str | None = None,
) -> int:
    """A whole-number query parameter (``default`` when absent); 400 naming it otherwise."""
    text = request.args.get(name)
    if text is None and default is not None:
        return default
    if text is None or not WHOLE.fullmatch(text) or not lowest <= int(text) <= highest:
        raise _bad_query(name, expected or f"a whole number from {lowest} to {highest}")
    return int(text)


def _flag(name: str) -> bool:
    """A yes/no query parameter: ``true`` or ``false`` (absent: false); 400 otherwise."""
    text = request.args.get(name, "false")
    if text not in ("true", "false"):
        raise _bad_query(name, "true or false")
    return text == "true"


def _encode_cursor(*keys: str) -> str:
    """An opaque page cursor holding the last row's keys (codes may hold any character)."""
    return base64.urlsafe_b64encode(json.dumps(keys).encode()).decode()


def _cursor(text: str) -> tuple[str, str]:
    """The two keys of a cursor ``_encode_cursor`` made; 400 for anything else."""
    try:
        keys = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, ValueError):
        keys = None
    if not (isinstance(keys, list) and len(keys) == 2 and all(isinstance(k, str) for k in keys)):
        raise _bad_query("after", "a cursor from a next link")
    return keys[0], keys[1]


def _instant(name: str, text: str, *, end: bool = False) -> datetime:
    """A query instant: ISO 8601 with an offset, or a date (its start; ``end``: the next
    day's start) in the service area's time zone."""
    try:
        if DATE_PATTERN.fullmatch(text):
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), tzinfo=service_area_zone(g.db))
        instant = datetime.fromisoformat(text)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise _bad_query(name, "an ISO 8601 instant with an offset, or a date YYYY-MM-DD")
    return instant


def _bad_query(name: str, expected: str) -> Exception:
    return BadRequest(f"query parameter {name}: expected {expected}")


def _next_link(endpoint: str, cursor: str | None, name: str = "after") -> str | None:
    if cursor is None:
        return None
    args: dict[str, Any] = {**request.args.to_dict(), name: cursor}
    return url_for(endpoint, **args)


def _location(location: StockLocation) -> dict[str, Any]:
    return {
        "code": location.code,
        "kind": location.kind.value,
        "name": location.name,
        "address": location.address,
        "opens": location.opens.isoformat("minutes") if location.opens else None,
        "closes": location.closes.isoformat("minutes") if location.closes else None,
    }


def _movement(
    movement: Movement,
    code: str,
    counterpart: str | None,
    sku: str,
    references: dict[int, str],
) -> dict[str, Any]:
    return {
        "id": movement.id,
        "batch": movement.batch,
        "kind": movement.kind.value,
        "location": code,
        "counterpart": counterpart,
        "sku": sku,
        "on_hand_change": movement.on_hand_change,
        "reserved_change": movement.reserved_change,
        "reason": movement.reason,
        "actor": movement.actor,
        "occurred_at": movement.occurred_at.astimezone(UTC).isoformat(),
        "job": references.get(movement.job_id) if movement.job_id is not None else None,
        "plan_id": movement.plan_id,
        "service_date": movement.service_date.isoformat() if movement.service_date else None,
        "flagged": movement.flagged,
    }


def _pick(line: PickLine, references: dict[int, str]) -> dict[str, Any]:
    return {
        "van": line.van,
        "warehouse": line.warehouse,
        "sku": line.sku,
        "name": line.name,
        "unit": line.unit,
        "quantity": line.quantity,
        "short": line.short,
        "jobs": [references.get(job, str(job)) for job in line.job_ids],
    }

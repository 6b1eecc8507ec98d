"""Pick lists (kitting): what each van loads at which warehouse for a planned day.

Publishing a plan holds each job's parts in the van, or at the warehouse where the
route picks them up (``inventory.reservations``). The warehouse lines of a day are
therefore exactly what the vans must collect: the planned jobs' parts minus what the
vans hold. A pick list reads them; confirming it posts the transfers and moves the
holds into the van, so the list of what is still to load empties as vans are loaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, joinedload

from inventory.ledger import (
    Actor,
    InvalidMovement,
    Posting,
    change_reservation,
    location,
)
from inventory.models import LocationKind, Movement, MovementKind, Reservation, StockLocation

#: Columns of a pick list's CSV.
CSV_HEADER = ("van", "warehouse", "sku", "name", "unit", "quantity", "short", "jobs")


@dataclass(frozen=True, slots=True)
class PickLine:
    """One part a van collects at one warehouse on the day.

    ``quantity`` is held at the warehouse for the van, ready to load; ``short`` is
    what the plan wants collected there but the warehouse could not hold. ``job_ids``
    are the jobs served, in the order their lines were planned; ``sequence`` is the
    route's stop index where the van first collects it (the pick-up's).
    """

    van: str
    van_name: str
    technician_id: int | None
    warehouse: str
    warehouse_name: str
    sku: str
    name: str
    unit: str
    quantity: int
    short: int
    job_ids: tuple[int, ...]
    sequence: int


def pick_list(session: Session, day: date, *, van_code: str | None = None) -> list[PickLine]:
    """The day's pick list: by van code, then the route's pick-ups in order, then
    warehouse code and SKU.

    Raises
    ------
    UnknownLocation
        ``van_code`` names no stock location.
    InvalidMovement
        ``van_code`` names a warehouse.
    """
    van = _van(session, van_code) if van_code is not None else None
    grouped: dict[tuple[int, int, int], list[Reservation]] = {}
    for line in _warehouse_lines(session, day, van):
        grouped.setdefault((line.van_id, line.location_id, line.part_id), []).append(line)
    picks = []
    for lines in grouped.values():
        first = lines[0]  # lines come in route order
        picks.append(
            PickLine(
                van=first.van.code,
                van_name=first.van.name,
                technician_id=first.van.technician_id,
                warehouse=first.location.code,
                warehouse_name=first.location.name,
                sku=first.part.sku,
                name=first.part.name,
                unit=first.part.unit,
                quantity=sum(line.reserved for line in lines),
                short=sum(line.short for line in lines),
                job_ids=tuple(dict.fromkeys(line.job_id for line in lines)),
                sequence=first.sequence,
            )
        )
    picks.sort(key=lambda pick: (pick.van, pick.sequence, pick.warehouse, pick.sku))
    return picks


def confirm_pick_list(
    session: Session,
    day: date,
    van_code: str,
    *,
    warehouse_code: str | None = None,
    actor: Actor,
) -> list[Movement]:
    """Record that a van loaded its held units (at one warehouse, or at all of them).

    Each warehouse line's reserved units move to the van in one batch: a release at
    the warehouse, the transfer out and in, and a reservation in the van, merged into
    the job's van line for that part when it has one. The warehouse line keeps only
    what is still short, and goes when nothing is. Units short were never held, so
    they are not loaded: confirming again posts nothing until stock arrives for them.

    Returns the rows posted, in order.

    Raises
    ------
    UnknownLocation
        No stock location has ``van_code`` or ``warehouse_code``.
    InvalidMovement
        ``van_code`` names a warehouse, or ``warehouse_code`` a van.
    """
    van = _van(session, van_code)
    warehouse = location(session, warehouse_code) if warehouse_code is not None else None
    if warehouse is not None and warehouse.kind != LocationKind.WAREHOUSE:
        raise InvalidMovement([f"warehouse: {warehouse.code} is not a warehouse"])
    seen = _warehouse_lines(session, day, van, warehouse)
    posting = Posting(session, actor, f"pick list of {day.isoformat()} loaded")
    posting.lock(
        [(line.location_id, line.part_id) for line in seen]
        + [(van.id, line.part_id) for line in seen]
    )
    # Read again under the locks: a concurrent confirm may have moved them meanwhile.
    # A line that appeared since the first read is left for the next confirm.
    seen_ids = {line.id for line in seen}
    lines = [
        line
        for line in _warehouse_lines(session, day, van, warehouse, fresh=True)
        if line.id in seen_ids
    ]
    in_van = {
        (line.job_id, line.part_id): line
        for line in session.scalars(
            select(Reservation)
            .where(
                Reservation.location_id == van.id,
                Reservation.job_id.in_(sorted({line.job_id for line in lines})),
            )
            .execution_options(populate_existing=True)
        )
    }
    for line in lines:
        units = line.reserved
        if not units:
            continue
        change_reservation(posting, line, -units, reason="loaded into the van")
        for kind, here, there in (
            (MovementKind.TRANSFER_OUT, line.location_id, van.id),
            (MovementKind.TRANSFER_IN, van.id, line.location_id),
        ):
            posting.post(
                kind,
                here,
                line.part_id,
                units,
                job_id=line.job_id,
                plan_id=line.plan_id,
                service_date=day,
                counterpart_id=there,
            )
        target = in_van.get((line.job_id, line.part_id))
        if target is None:
            target = Reservation(
                job_id=line.job_id,
                part_id=line.part_id,
                location_id=van.id,
                van_id=van.id,
                service_date=day,
                plan_id=line.plan_id,
                sequence=line.sequence,  # the units are in the van from the pick-up on
                wanted=0,
                reserved=0,
            )
            session.add(target)
            in_van[line.job_id, line.part_id] = target
        target.wanted += units
        change_reservation(posting, target, units, reason="loaded into the van")
        line.wanted -= units
        if line.wanted == 0:
            session.delete(line)
    movements = posting.write()
    session.flush()
    return movements


def picklist_csv(lines: Sequence[PickLine], references: Mapping[int, str] | None = None) -> str:
    """The pick list as CSV, one row per line; jobs ``;``-joined, as references when given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        jobs = (references.get(job, str(job)) if references else str(job) for job in line.job_ids)
        writer.writerow(
            (
                line.van,
                line.warehouse,
                line.sku,
                line.name,
                line.unit,
                line.quantity,
                line.short,
                ";".join(jobs),
            )
        )
    return out.getvalue()


def _van(session: Session, code: str) -> StockLocation:
    found = location(session, code)
    if found.kind != LocationKind.VAN:
        raise InvalidMovement([f"van: {found.code} is not a van"])
    return found


def _warehouse_lines(
    session: Session,
    day: date,
    van: StockLocation | None,
    warehouse: StockLocation | None = None,
    *,
    fresh: bool = False,
) -> list[Reservation]:
    """The day's reservation lines held at warehouses, in route order."""
    held_at = aliased(StockLocation)
    query = (
        select(Reservation)
        .join(held_at, held_at.id == Reservation.location_id)
        .where(Reservation.service_date == day, held_at.kind == LocationKind.WAREHOUSE)
        .options(joinedload(Reservation.van), joinedload(Reservation.location))
        .order_by(Reservation.van_id, Reservation.sequence, Reservation.id)
    )
    if van is not None:
        query = query.where(Reservation.van_id == van.id)
    if warehouse is not None:
        query = query.where(Reservation.location_id == warehouse.id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    return list(session.scalars(query))

"""Reservations from the plan: each planned job's parts held where its route gets them.

Planning says, per van, the route: warehouse calls with what they pick up, and jobs
with the parts they need. ``reserve_day`` turns that into reservation lines and brings
the day's reservations to exactly those lines, posting only the differences, in the
caller's transaction (the publish of the plan). A job's parts come from what the van
has available for the day first (on hand minus what other days hold), and what it
lacks from the pick-ups before the job; a line the stock cannot cover is kept with
``reserved < wanted``: the job is waiting for stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from inventory.ledger import (
    Actor,
    InsufficientStock,
    InvalidMovement,
    Posting,
    change_reservation,
    checked_lines,
    checked_reason,
    fill_shortages,
    held_line,
    location,
    locked_lines,
)
from inventory.models import LocationKind, Part, Reservation, StockLocation


@dataclass(frozen=True, slots=True)
class Pickup:
    """A route's call at a warehouse (by code) and what it picks up there."""

    warehouse: str
    parts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Visit:
    """A route's job (by dispatch's id) and the parts it needs."""

    job_id: int
    parts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class VanRoute:
    """One technician's route for the day, in order."""

    technician_id: int
    stops: Sequence[Pickup | Visit]


@dataclass(frozen=True, slots=True)
class Wanted:
    """A reservation line as the plan wants it."""

    job_id: int
    part_id: int
    location_id: int
    van_id: int
    sequence: int
    quantity: int


def reserve_day(
    session: Session,
    day: date,
    routes: Sequence[VanRoute],
    *,
    plan_id: int | None,
    actor: Actor,
    reason: str,
) -> dict[int, dict[str, int]]:
    """Make the day's reservations exactly what ``routes`` need; the jobs left waiting.

    Jobs of the day not on any route lose their reservations. Releases are posted
    before reservations, so units a change frees can serve another job; new holds are
    taken in route order, the earliest stop first.

    Returns
    -------
    dict
        Job id -> SKU -> units the stock could not hold for it (only jobs short of some).
    """
    routed = sorted({stop.job_id for r in routes for stop in r.stops if isinstance(stop, Visit)})
    vans = _vans(session, {route.technician_id for route in routes})
    parts = {
        part.sku: part
        for part in session.scalars(
            select(Part).where(
                Part.sku.in_(sorted({sku for r in routes for s in r.stops for sku in s.parts}))
            )
        )
    }
    warehouses = {
        w.code: w.id
        for w in session.scalars(
            select(StockLocation).where(StockLocation.kind == LocationKind.WAREHOUSE)
        )
    }
    posting = Posting(session, actor, checked_reason(reason))
    van_keys = {
        (vans[route.technician_id].id, parts[sku].id)
        for route in routes
        if route.technician_id in vans
        for stop in route.stops
        if isinstance(stop, Visit)
        for sku in stop.parts
        if sku in parts
    }
    pickup_keys = {
        (warehouses[stop.warehouse], parts[sku].id)
        for route in routes
        for stop in route.stops
        if isinstance(stop, Pickup) and stop.warehouse in warehouses
        for sku in stop.parts
        if sku in parts
    }
    # A routed job held for another day has moved to this one: its lines are this day's.
    current = locked_lines(
        posting,
        or_(Reservation.service_date == day, Reservation.job_id.in_(routed)),
        also=van_keys | pickup_keys,
    )
    held_elsewhere = _reserved_by_other_days(
        session, day, [key[0] for key in van_keys], except_jobs=routed
    )
    wanted = []
    for route in routes:
        van = vans.get(route.technician_id)
        if van is None:
            continue  # a technician with no van: nothing can be held for their jobs
        van_free = {
            sku: posting.balance(van.id, part.id).on_hand
            - held_elsewhere.get((van.id, part.id), 0)
            for sku, part in parts.items()
            if (van.id, part.id) in van_keys
        }
        wanted += _lines(route, van, van_free, parts, warehouses)
    by_key = {(w.job_id, w.part_id, w.location_id): w for w in wanted}
    lines = {(r.job_id, r.part_id, r.location_id): r for r in current}
    # Releases first: what a line gives up may serve another.
    for key, held in lines.items():
        goal = by_key.get(key)
        keep = min(held.reserved, goal.quantity) if goal else 0
        if keep < held.reserved:
            change_reservation(posting, held, keep - held.reserved)
        if goal is None:
            session.delete(held)
    for target in wanted:
        line = lines.get((target.job_id, target.part_id, target.location_id))
        if line is None:
            line = Reservation(
                job_id=target.job_id,
                part_id=target.part_id,
                location_id=target.location_id,
                van_id=target.van_id,
                service_date=day,
                reserved=0,
            )
            session.add(line)
        line.wanted, line.sequence, line.plan_id = target.quantity, target.sequence, plan_id
        line.van_id, line.service_date = target.van_id, day
        missing = target.quantity - line.reserved
        available = posting.balance(target.location_id, target.part_id).available
        if missing > 0 and available > 0:
            change_reservation(posting, line, min(missing, available))
    posting.write()
    session.flush()
    return shortages(session, day)


def _lines(
    route: VanRoute,
    van: StockLocation,
    van_free: dict[str, int],
    parts: Mapping[str, Part],
    warehouses: Mapping[str, int],
) -> list[Wanted]:
    """The reservation lines of one route: the van first, then earlier pick-ups."""
    # SKU -> [warehouse id, units left, stop index] of each pick-up so far
    picked: dict[str, list[list[int]]] = defaultdict(list)
    lines: dict[tuple[int, int, int], Wanted] = {}
    for sequence, stop in enumerate(route.stops):
        if isinstance(stop, Pickup):
            warehouse_id = warehouses.get(stop.warehouse)
            if warehouse_id is not None:
                for sku, quantity in stop.parts.items():
                    picked[sku].append([warehouse_id, quantity, sequence])
            continue
        for sku, quantity in stop.parts.items():
            part = parts.get(sku)
            if part is None:
                continue  # a part no location stocks: dispatch reports it unplannable
            sources = []  # (location id, units, stop index where the units enter the van)
            from_van = min(quantity, max(van_free.get(sku, 0), 0))
            van_free[sku] = van_free.get(sku, 0) - from_van
            if from_van:
                sources.append((van.id, from_van, sequence))
            needed = quantity - from_van
            for pickup in picked[sku]:
                if needed <= 0:
                    break
                taken = min(needed, pickup[1])
                if taken:
                    pickup[1] -= taken
                    needed -= taken
                    sources.append((pickup[0], taken, pickup[2]))
            if needed:  # neither van nor pick-up: hold it in the van, where it is missing
                sources.append((van.id, needed, sequence))
            for location_id, units, entered in sources:
                key = (stop.job_id, part.id, location_id)
                before = lines.get(key)
                lines[key] = Wanted(
                    stop.job_id,
                    part.id,
                    location_id,
                    van.id,
                    min(entered, before.sequence) if before else entered,
                    units + (before.quantity if before else 0),
                )
    return list(lines.values())


def reserve(
    session: Session,
    *,
    job_id: int,
    day: date,
    location_code: str,
    van_code: str,
    sku: str,
    quantity: int,
    actor: Actor,
    reason: str,
    plan_id: int | None = None,
) -> Reservation:
    """Hold ``quantity`` more of a part for a job at one location, or refuse.

    Raises
    ------
    UnknownLocation, InvalidMovement
    InsufficientStock
        Fewer available than ``quantity``: nothing is held and nothing written.
    """
    held_at = location(session, location_code)
    van = location(session, van_code)
    if van.kind != LocationKind.VAN:
        raise InvalidMovement([f"van: {van.code} is not a van"])
    ((part, units),) = checked_lines(session, [(sku, quantity)])
    posting = Posting(session, actor, checked_reason(reason))
    posting.lock([(held_at.id, part.id)])
    available = posting.balance(held_at.id, part.id).available
    if available < units:
        raise InsufficientStock(held_at.code, part.sku, units, available)
    line = held_line(session, job_id, part.id, held_at.id)
    if line is None:
        line = Reservation(
            job_id=job_id,
            part_id=part.id,
            location_id=held_at.id,
            van_id=van.id,
            service_date=day,
            plan_id=plan_id,
            wanted=0,
            reserved=0,
        )
        session.add(line)
    line.wanted += units
    change_reservation(posting, line, units)
    posting.write()
    session.flush()
    return line


def release_job(session: Session, job_id: int, *, actor: Actor, reason: str) -> None:
    """Give up every reservation of a job (cancelled, finished, taken off its day); the
    units go to jobs waiting for them, earliest day first.

    Raises
    ------
    InvalidMovement
        An empty reason.
    """
    posting = Posting(session, actor, checked_reason(reason))
    freed = set()
    for line in locked_lines(posting, Reservation.job_id == job_id):
        if line.reserved:
            change_reservation(posting, line, -line.reserved)
            freed.add((line.location_id, line.part_id))
        session.delete(line)
    session.flush()
    for location_id, part_id in sorted(freed):  # what the job gave up serves jobs waiting
        fill_shortages(posting, location_id, part_id)
    posting.write()
    session.flush()


def shortages(session: Session, day: date) -> dict[int, dict[str, int]]:
    """The day's jobs waiting for stock: job id -> SKU -> units not held."""
    waiting: dict[int, dict[str, int]] = {}
    for line in session.scalars(
        select(Reservation)
        .where(Reservation.service_date == day, Reservation.reserved < Reservation.wanted)
        .order_by(Reservation.job_id, Reservation.id)
    ):
        parts = waiting.setdefault(line.job_id, {})
        parts[line.part.sku] = parts.get(line.part.sku, 0) + line.short
    return waiting


def reservations_of(session: Session, job_ids: Collection[int]) -> list[Reservation]:
    """The reservation lines of these jobs, by job then route order."""
    if not job_ids:
        return []
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.job_id.in_(sorted(job_ids)))
            .order_by(Reservation.job_id, Reservation.id)
        )
    )


def lines_of_day(session: Session, day: date) -> list[Reservation]:
    """Every reservation line of a day, in creation order."""
    return list(
        session.scalars(
            select(Reservation).where(Reservation.service_date == day).order_by(Reservation.id)
        )
    )


def available_for_day(
    session: Session, day: date, locations: Sequence[StockLocation]
) -> dict[int, dict[str, int]]:
    """What each location (by id) can give the day's plan: SKU -> on hand less what
    other days hold, in the location's listing order, never below zero; parts it has
    none of left out. Reads the locations' loaded levels, and one query."""
    held = _reserved_by_other_days(session, day, [location.id for location in locations])
    return {
        location.id: {
            level.part.sku: max(level.on_hand - held.get((location.id, level.part_id), 0), 0)
            for level in location.levels
            if level.on_hand > 0
        }
        for location in locations
    }


def _reserved_by_other_days(
    session: Session, day: date, location_ids: Sequence[int], *, except_jobs: Sequence[int] = ()
) -> dict[tuple[int, int], int]:
    rows = session.execute(
        select(Reservation.location_id, Reservation.part_id, func.sum(Reservation.reserved))
        .where(
            Reservation.service_date != day,
            Reservation.location_id.in_(sorted(set(location_ids))),
            Reservation.job_id.not_in(except_jobs),
        )
        .group_by(Reservation.location_id, Reservation.part_id)
    )
    return {(location_id, part_id): int(units) for location_id, part_id, units in rows}


def _vans(session: Session, technician_ids: Collection[int]) -> dict[int, StockLocation]:
    return {
        van.technician_id: van
        for van in session.scalars(
            select(StockLocation).where(
                StockLocation.kind == LocationKind.VAN,
                StockLocation.technician_id.in_(sorted(technician_ids)),
            )
        )
        if van.technician_id is not None
    }

"""Replenishment: which warehouses and vans fall to their reorder point, counting the
days ahead, and how much to send or order.

A location's stock is judged by what it will have left once the plan's next days have
taken theirs: on hand minus the reservation lines held there for today up to the
horizon. A line counts with what the plan wants (``wanted``), not only what stock
could hold: a job waiting for stock is demand the top-up must meet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.ledger import MAX_QUANTITY, InvalidMovement, location
from inventory.models import (
    LocationKind,
    Part,
    ReorderRule,
    Reservation,
    StockLevel,
    StockLocation,
)

#: Columns of the suggestions' CSV.
CSV_HEADER = (
    "location",
    "kind",
    "sku",
    "name",
    "on_hand",
    "reserved_ahead",
    "projected",
    "reorder_point",
    "reorder_quantity",
    "suggested",
    "source",
)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Top up one part at one location by ``suggested`` units.

    ``source`` is the warehouse a van's top-up is transferred from: the one with the
    most available, which may hold less than suggested; None when no warehouse has
    any, and always for a warehouse, which orders from its supplier.
    """

    location: str
    kind: LocationKind
    sku: str
    name: str
    on_hand: int
    reserved_ahead: int
    projected: int
    reorder_point: int
    reorder_quantity: int
    suggested: int
    source: str | None


def reorder_suggestions(
    session: Session, *, today: date, horizon_days: int = 7
) -> list[Suggestion]:
    """A suggestion for each reorder rule whose projected stock is at or below its point.

    Projected stock is on hand minus what reservations want at the location on the days
    from ``today`` to ``today + horizon_days``, both included. The suggestion is the
    smallest multiple of the reorder quantity that lifts it above the point. Warehouses
    come first, then vans, each by code and SKU.

    Raises
    ------
    InvalidMovement
        ``horizon_days`` is not a whole number from 0 up.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 0:
        raise InvalidMovement([f"horizon_days: {horizon_days!r} is not a whole number from 0"])
    rules = list(
        session.execute(
            select(ReorderRule, StockLocation).join(
                StockLocation, StockLocation.id == ReorderRule.location_id
            )
        )
    )
    on_hand = {
        (level.location_id, level.part_id): level.on_hand
        for level in session.scalars(
            select(StockLevel).where(
                StockLevel.location_id.in_(sorted({rule.location_id for rule, _ in rules}))
            )
        )
    }
    ahead = {
        (location_id, part_id): int(units)
        for location_id, part_id, units in session.execute(
            select(Reservation.location_id, Reservation.part_id, func.sum(Reservation.wanted))
            .where(
                Reservation.service_date >= today,
                Reservation.service_date <= today + timedelta(days=horizon_days),
            )
            .group_by(Reservation.location_id, Reservation.part_id)
        )
    }
    sources = _sources(session)
    suggestions = []
    for rule, held_at in rules:
        key = (rule.location_id, rule.part_id)
        projected = on_hand.get(key, 0) - ahead.get(key, 0)
        if projected > rule.reorder_point:
            continue
        batches = (rule.reorder_point - projected) // rule.reorder_quantity + 1
        suggestions.append(
            Suggestion(
                location=held_at.code,
                kind=held_at.kind,
                sku=rule.part.sku,
                name=rule.part.name,
                on_hand=on_hand.get(key, 0),
                reserved_ahead=ahead.get(key, 0),
                projected=projected,
                reorder_point=rule.reorder_point,
                reorder_quantity=rule.reorder_quantity,
                suggested=batches * rule.reorder_quantity,
                source=sources.get(rule.part_id) if held_at.kind == LocationKind.VAN else None,
            )
        )
    suggestions.sort(key=lambda s: (s.kind != LocationKind.WAREHOUSE, s.location, s.sku))
    return suggestions


def set_reorder_rule(
    session: Session, location_code: str, sku: str, *, point: int, quantity: int
) -> ReorderRule:
    """Create or change the reorder rule of one part at one location.

    Raises
    ------
    UnknownLocation
    InvalidMovement
        An unknown SKU, a point that is not a whole number from 0, or a quantity that
        is not a whole number from 1 (each up to ``MAX_QUANTITY``); every problem named.
    """
    held_at = location(session, location_code)
    part = session.scalar(select(Part).where(Part.sku == sku))
    problems = [] if part is not None else [f"sku: unknown SKU {sku!r}"]
    for name, value, lowest in (("point", point, 0), ("quantity", quantity, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name}: {value!r} is not a whole number")
        elif not lowest <= value <= MAX_QUANTITY:
            problems.append(f"{name}: {value} is out of range ({lowest} to {MAX_QUANTITY})")
    if problems or part is None:
        raise InvalidMovement(problems)
    rule = session.get(ReorderRule, (held_at.id, part.id))
    if rule is None:
        rule = ReorderRule(location_id=held_at.id, part_id=part.id)
        session.add(rule)
    rule.reorder_point, rule.reorder_quantity = point, quantity
    session.flush()
    return rule


def suggestions_csv(suggestions: Sequence[Suggestion]) -> str:
    """The suggestions as CSV, one row each; an empty source for a supplier order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for s in suggestions:
        writer.writerow(
            (
                s.location,
                s.kind.value,
                s.sku,
                s.name,
                s.on_hand,
                s.reserved_ahead,
                s.projected,
                s.reorder_point,
                s.reorder_quantity,
                s.suggested,
                s.source or "",
            )
        )
    return out.getvalue()


def _sources(session: Session) -> dict[int, str]:
    """Part id -> the warehouse with the most of it available (on hand minus reserved);
    the first code among equals. Parts no warehouse has available are left out."""
    best: dict[int, str] = {}
    for part_id, code in session.execute(
        select(StockLevel.part_id, StockLocation.code)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(
            StockLocation.kind == LocationKind.WAREHOUSE,
            StockLevel.on_hand > StockLevel.reserved,
        )
        .order_by((StockLevel.on_hand - StockLevel.reserved).desc(), StockLocation.code)
    ):
        best.setdefault(part_id, code)
    return best

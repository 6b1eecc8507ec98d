"""The stock ledger: the one writer of movements, balances and reservations.

Every change of stock is posted as ledger rows (``Movement``) and applied to the
balances (``StockLevel``) in the caller's transaction, so the two can never disagree.
Functions take the caller's session first and never commit.

Concurrency: a posting first locks the balance rows it will touch, in one order (by
location, then part), with an UPDATE that changes nothing: a row lock on PostgreSQL,
the database's write lock on SQLite. Whatever it then reads of those balances stays
true until it commits, so two transactions racing for the last unit are served one
after the other and the second finds nothing left: available stock (on hand minus
reserved) never goes below zero, and the database's CHECK constraints say so too.

What the field reports is a fact and is never refused: a part used that the books
say the van does not hold is first brought onto the books by a flagged adjustment;
a fact that leaves fewer on hand than is reserved gives up the latest reservations
(``uncover``), which then show as waiting for stock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from inventory.models import (
    EFFECTS,
    LocationKind,
    Movement,
    MovementKind,
    Part,
    Reservation,
    StockLevel,
    StockLocation,
)

#: Largest quantity one line may move: far above any real delivery, far below overflow.
MAX_QUANTITY = 1_000_000
#: Longest reason a movement keeps.
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who posts a movement: a signed-in user, or a named process."""

    user_id: int | None
    name: str


SYSTEM = Actor(None, "system")


class InventoryError(ValueError):
    """A request the ledger refuses; nothing was written. ``problems`` names each reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class InvalidMovement(InventoryError):
    """Bad input: an unknown SKU or location, a bad quantity, a movement the kind of
    location does not take (a receipt into a van)."""


class UnknownLocation(InventoryError):
    """No stock location has this code."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__([f"location: no stock location {code!r}"])


class InsufficientStock(InventoryError):
    """Fewer available (on hand minus reserved) than a transfer or reservation needs."""

    def __init__(self, location: str, sku: str, wanted: int, available: int) -> None:
        self.location = location
        self.sku = sku
        self.wanted = wanted
        self.available = available
        super().__init__([f"{location} has {available} of {sku} available, {wanted} needed"])


Line = tuple[str, int]
"""A line of a request: SKU and whole quantity."""


@dataclass(slots=True)
class Balance:
    """A locked balance row as the posting will leave it."""

    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class Posting:
    """Movements posted together under one batch id.

    Lock every balance the posting touches with ``lock`` before reading or changing
    one; ``post`` changes a locked balance and records the row; ``write`` sends the
    balances and rows to the database.
    """

    session: Session
    actor: Actor
    reason: str
    batch: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    balances: dict[tuple[int, int], Balance] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def lock(self, keys: Iterable[tuple[int, int]]) -> None:
        """Lock the balances of (location id, part id) pairs, creating missing ones."""
        wanted = sorted(set(keys) - self.balances.keys())
        if not wanted:
            return
        _create_missing_levels(self.session, wanted)
        for location_id, part_id in wanted:
            on_hand, reserved = self.session.execute(
                update(StockLevel)
                .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
                .values(on_hand=StockLevel.on_hand)
                .returning(StockLevel.on_hand, StockLevel.reserved)
                .execution_options(synchronize_session=False)
            ).one()
            self.balances[location_id, part_id] = Balance(on_hand, reserved)

    def balance(self, location_id: int, part_id: int) -> Balance:
        return self.balances[location_id, part_id]

    def post(
        self,
        kind: MovementKind,
        location_id: int,
        part_id: int,
        quantity: int,
        *,
        reason: str | None = None,
        job_id: int | None = None,
        plan_id: int | None = None,
        service_date: date | None = None,
        counterpart_id: int | None = None,
        flagged: bool = False,
    ) -> None:
        """Apply ``quantity`` (> 0; for an adjustment, signed) of ``kind`` to a locked balance."""
        balance = self.balances[location_id, part_id]
        on_hand_sign, reserved_sign = EFFECTS.get(kind, (1, 0))
        on_hand_change, reserved_change = on_hand_sign * quantity, reserved_sign * quantity
        balance.on_hand += on_hand_change
        balance.reserved += reserved_change
        # Callers check before posting; a breach here is a bug, never bad input.
        assert quantity != 0 and 0 <= balance.reserved <= balance.on_hand, (kind, balance)
        self.rows.append(
            {
                "batch": self.batch,
                "kind": kind,
                "location_id": location_id,
                "part_id": part_id,
                "on_hand_change": on_hand_change,
                "reserved_change": reserved_change,
                "reason": (reason or self.reason)[:MAX_REASON],
                "actor_user_id": self.actor.user_id,
                "actor": self.actor.name[:100],
                "occurred_at": self.occurred_at,
                "job_id": job_id,
                "plan_id": plan_id,
                "service_date": service_date,
                "counterpart_id": counterpart_id,
                "flagged": flagged,
            }
        )

    def write(self) -> list[Movement]:
        """Write the changed balances and the rows; the rows, in posting order."""
        if not self.rows:
            return []
        changed = {(row["location_id"], row["part_id"]) for row in self.rows}
        for location_id, part_id in sorted(changed):
            balance = self.balances[location_id, part_id]
            self.session.execute(
                update(StockLevel)
                .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
                .values(on_hand=balance.on_hand, reserved=balance.reserved)
                .execution_options(synchronize_session=False)
            )
        movements = list(
            self.session.scalars(
                insert(Movement).returning(Movement, sort_by_parameter_order=True), self.rows
            )
        )
        self.rows = []
        # Balances loaded earlier in this session must not show what they were.
        for level in list(self.session.identity_map.values()):
            if isinstance(level, StockLevel) and (level.location_id, level.part_id) in changed:
                self.session.expire(level)
        return movements


def _create_missing_levels(session: Session, keys: Sequence[tuple[int, int]]) -> None:
    """Insert zero balances for pairs that have none; a concurrent insert is no error."""
    locations = sorted({location_id for location_id, _ in keys})
    existing = {
        (location_id, part_id)
        for location_id, part_id in session.execute(
            select(StockLevel.location_id, StockLevel.part_id).where(
                StockLevel.location_id.in_(locations)
            )
        )
    }
    missing = [key for key in keys if key not in existing]
    if not missing:
        return
    last = {
        location_id: position
        for location_id, position in session.execute(
            select(StockLevel.location_id, func.max(StockLevel.position))
            .where(StockLevel.location_id.in_(locations))
            .group_by(StockLevel.location_id)
        )
    }
    rows = []
    for location_id, part_id in missing:
        last[location_id] = last.get(location_id, -1) + 1
        rows.append(
            {
                "location_id": location_id,
                "part_id": part_id,
                "on_hand": 0,
                "reserved": 0,
                "position": last[location_id],
            }
        )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(StockLevel)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["location_id", "part_id"])
    )


# --- Reading what requests name ------------------------------------------------------


def location(session: Session, code: str) -> StockLocation:
    """The stock location with this code.

    Raises
    ------
    UnknownLocation
    """
    found = session.scalar(select(StockLocation).where(StockLocation.code == code))
    if found is None:
        raise UnknownLocation(code)
    return found


def checked_lines(
    session: Session, lines: Sequence[Line], *, allow_zero: bool = False, field_name: str = "lines"
) -> list[tuple[Part, int]]:
    """The parts and quantities of a request's lines, every problem named at once.

    Raises
    ------
    InvalidMovement
        An unknown SKU, a SKU listed twice, or a quantity that is not a whole number
        above zero (at or above zero for counts) and at most ``MAX_QUANTITY``.
    """
    if not lines:
        raise InvalidMovement([f"{field_name}: give at least one line"])
    by_sku = {
        part.sku: part
        for part in session.scalars(
            select(Part).where(Part.sku.in_(sorted({str(sku) for sku, _ in lines})))
        )
    }
    problems, seen, checked = [], set(), []
    lowest = 0 if allow_zero else 1
    for number, (sku, quantity) in enumerate(lines):
        where = f"{field_name}[{number}]"
        part = by_sku.get(sku)
        if part is None:
            problems.append(f"{where}.sku: unknown SKU {sku!r}")
        elif sku in seen:
            problems.append(f"{where}.sku: {sku} is listed twice")
        seen.add(sku)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            problems.append(
                f"{where}.quantity: {quantity!r} is not a whole number"
                f" of {part.unit if part else 'units'}"
            )
        elif not lowest <= quantity <= MAX_QUANTITY:
            problems.append(
                f"{where}.quantity: {quantity} is out of range ({lowest} to {MAX_QUANTITY})"
            )
        elif part is not None:
            checked.append((part, quantity))
    if problems:
        raise InvalidMovement(problems)
    return checked


def checked_reason(reason: str) -> str:
    """A movement's reason, stripped.

    Raises
    ------
    InvalidMovement
        Empty, or longer than ``MAX_REASON``.
    """
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise InvalidMovement([f"reason: give a reason of 1 to {MAX_REASON} characters"])
    return text


# --- Warehouse movements -------------------------------------------------------------


def receive(
    session: Session, location_code: str, lines: Sequence[Line], *, actor: Actor, reason: str
) -> list[Movement]:
    """Book a delivery into a warehouse.

    Raises
    ------
    UnknownLocation, InvalidMovement
        Among them a receipt into a van: vans are filled by transfers.
    """
    target = location(session, location_code)
    checked = checked_lines(session, lines)
    why = checked_reason(reason)
    if target.kind != LocationKind.WAREHOUSE:
        raise InvalidMovement(
            [f"location: {target.code} is a van; receive into a warehouse and transfer"]
        )
    posting = Posting(session, actor, why)
    posting.lock((target.id, part.id) for part, _ in checked)
    for part, quantity in checked:
        posting.post(MovementKind.RECEIVE, target.id, part.id, quantity)
        fill_shortages(posting, target.id, part.id)
    return posting.write()


def transfer(
    session: Session,
    source_code: str,
    destination_code: str,
    lines: Sequence[Line],
    *,
    actor: Actor,
    reason: str,
) -> list[Movement]:
    """Move available stock from one location to another (two rows per line, one batch).

    Raises
    ------
    UnknownLocation, InvalidMovement
    InsufficientStock
        The source has fewer available than a line moves (reserved units stay put).
    """
    source = location(session, source_code)
    destination = location(session, destination_code)
    checked = checked_lines(session, lines)
    why = checked_reason(reason)
    if source.id == destination.id:
        raise InvalidMovement(["destination: the same location as the source"])
    posting = Posting(session, actor, why)
    posting.lock(
        [(source.id, part.id) for part, _ in checked]
        + [(destination.id, part.id) for part, _ in checked]
    )
    for part, quantity in checked:
        available = posting.balance(source.id, part.id).available
        if available < quantity:
            raise InsufficientStock(source.code, part.sku, quantity, available)
    for part, quantity in checked:
        posting.post(
            MovementKind.TRANSFER_OUT, source.id, part.id, quantity, counterpart_id=destination.id
        )
        posting.post(
            MovementKind.TRANSFER_IN, destination.id, part.id, quantity, counterpart_id=source.id
        )
        fill_shortages(posting, destination.id, part.id)
    return posting.write()


def count(
    session: Session, location_code: str, counted: Sequence[Line], *, actor: Actor, reason: str
) -> list[Movement]:
    """Post a cycle count: each line's difference to the books as an adjustment.

    A line that matches the books posts nothing. A count below what is reserved gives
    up the latest reservations it no longer covers.

    Raises
    ------
    UnknownLocation, InvalidMovement
    """
    target = location(session, location_code)
    checked = checked_lines(session, counted, allow_zero=True)
    return set_on_hand(
        session, target.id, {part.id: n for part, n in checked}, actor=actor, reason=reason
    )


def set_on_hand(
    session: Session,
    location_id: int,
    quantities: Mapping[int, int],
    *,
    actor: Actor,
    reason: str,
    flagged: bool = False,
) -> list[Movement]:
    """Adjust balances (by part id) to exactly these quantities on hand: counts, imports."""
    posting = Posting(session, actor, checked_reason(reason))
    posting.lock((location_id, part_id) for part_id in quantities)
    for part_id, quantity in quantities.items():
        adjust_to(posting, location_id, part_id, quantity, flagged=flagged)
    return posting.write()


def adjust_to(
    posting: Posting,
    location_id: int,
    part_id: int,
    quantity: int,
    *,
    flagged: bool = False,
    reason: str | None = None,
    job_id: int | None = None,
) -> None:
    """Post the adjustment that leaves ``quantity`` on hand (a locked balance)."""
    balance = posting.balance(location_id, part_id)
    difference = quantity - balance.on_hand
    if difference < 0:
        uncover(posting, location_id, part_id, on_hand_after=quantity)
    if difference:
        posting.post(
            MovementKind.ADJUST,
            location_id,
            part_id,
            difference,
            flagged=flagged,
            reason=reason,
            job_id=job_id,
        )
    if difference > 0:
        fill_shortages(posting, location_id, part_id)


# --- Reservations ------------------------------------------------------------------


def locked_lines(
    posting: Posting, *criteria: ColumnElement[bool], also: Iterable[tuple[int, int]] = ()
) -> list[Reservation]:
    """The reservation lines matching ``criteria``, read after their balances (and
    ``also``'s) are locked, in one sorted lock.

    Only a transaction holding a line's balance changes the line, so what is read under
    the lock stays true until commit. Read before it, a line may have been given up
    meanwhile by another transaction; and a line this session loaded earlier (sessions
    keep objects across commits) would come back as it was then, hence
    ``populate_existing``.
    """
    query = select(Reservation).where(*criteria).execution_options(populate_existing=True)
    keys = set(also)
    while True:
        lines = list(posting.session.scalars(query))
        keys |= {(line.location_id, line.part_id) for line in lines}
        if keys <= posting.balances.keys():
            return lines
        posting.lock(keys)


def held_line(session: Session, job_id: int, part_id: int, location_id: int) -> Reservation | None:
    """A job's reservation line for a part at a location, as it is now (read it with the
    balance locked: see ``locked_lines``)."""
    return session.scalar(
        select(Reservation)
        .where(
            Reservation.job_id == job_id,
            Reservation.part_id == part_id,
            Reservation.location_id == location_id,
        )
        .execution_options(populate_existing=True)
    )


def uncover(posting: Posting, location_id: int, part_id: int, *, on_hand_after: int) -> None:
    """Give up reservations until those left fit in ``on_hand_after``: the latest day's
    first, and within a day the last stop of the route first."""
    balance = posting.balance(location_id, part_id)
    excess = balance.reserved - max(on_hand_after, 0)
    if excess <= 0:
        return
    holders = posting.session.scalars(
        select(Reservation)
        .where(
            Reservation.location_id == location_id,
            Reservation.part_id == part_id,
            Reservation.reserved > 0,
        )
        .order_by(
            Reservation.service_date.desc(), Reservation.sequence.desc(), Reservation.id.desc()
        )
        .execution_options(populate_existing=True)  # as they are now: see locked_lines
    )
    for holder in holders:
        if excess <= 0:
            break
        given_up = min(holder.reserved, excess)
        change_reservation(posting, holder, -given_up, reason="stock fell short")
        excess -= given_up


def fill_shortages(posting: Posting, location_id: int, part_id: int) -> None:
    """Top up reservations waiting for stock at a locked balance that has some available:
    the earliest day's first, and within a day in route order."""
    balance = posting.balance(location_id, part_id)
    if balance.available <= 0:
        return
    waiting = posting.session.scalars(
        select(Reservation)
        .where(
            Reservation.location_id == location_id,
            Reservation.part_id == part_id,
            Reservation.reserved < Reservation.wanted,
        )
        .order_by(Reservation.service_date, Reservation.sequence, Reservation.id)
        .execution_options(populate_existing=True)  # as they are now: see locked_lines
    )
    for holder in waiting:
        if balance.available <= 0:
            break
        change_reservation(
            posting, holder, min(holder.short, balance.available), reason="stock arrived"
        )


def change_reservation(
    posting: Posting, holder: Reservation, change: int, *, reason: str | None = None
) -> None:
    """Reserve (> 0) or release (< 0) units for a reservation line at its locked balance."""
    kind = MovementKind.RESERVE if change > 0 else MovementKind.RELEASE
    posting.post(
        kind,
        holder.location_id,
        holder.part_id,
        abs(change),
        reason=reason,
        job_id=holder.job_id,
        plan_id=holder.plan_id,
        service_date=holder.service_date,
    )
    holder.reserved += change

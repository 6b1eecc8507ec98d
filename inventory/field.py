"""Parts used on a job and brought back, as the field reports them (the phone API calls this).

A technician's report is a fact and is never refused for want of stock: a part the
books say the van does not hold is brought onto the books first by an adjustment
flagged for warehouse staff to reconcile. Using a part fulfils the job's hold on it in
the van; what the use leaves uncovered of other jobs' holds is given up, latest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.ledger import (
    Actor,
    InvalidMovement,
    Line,
    Posting,
    adjust_to,
    change_reservation,
    checked_lines,
    fill_shortages,
    held_line,
    uncover,
)
from inventory.models import LocationKind, Movement, MovementKind, StockLocation


def consume(
    session: Session, technician_id: int, job_id: int, lines: Sequence[Line], *, actor: Actor
) -> list[Movement]:
    """Record parts used on a job from the technician's van.

    Returns the rows posted; those ``flagged`` need reconciling.

    Raises
    ------
    InvalidMovement
        An unknown SKU or a quantity that is not a whole number above zero, or a
        technician with no van.
    """
    van = _van(session, technician_id)
    checked = checked_lines(session, lines)
    posting = Posting(session, actor, "used on the job")
    posting.lock((van.id, part.id) for part, _ in checked)
    for part, quantity in checked:
        held = held_line(session, job_id, part.id, van.id)
        if held is not None:
            fulfilled = min(held.reserved, quantity)
            if fulfilled:
                change_reservation(posting, held, -fulfilled, reason="used on the job")
            held.wanted -= min(held.wanted, quantity)
            if held.wanted == 0:
                session.delete(held)
        balance = posting.balance(van.id, part.id)
        unexpected = balance.on_hand < quantity
        if unexpected:
            adjust_to(
                posting,
                van.id,
                part.id,
                quantity,
                flagged=True,
                reason="used on a job, not on the books: to reconcile",
                job_id=job_id,
            )
        uncover(posting, van.id, part.id, on_hand_after=balance.on_hand - quantity)
        posting.post(
            MovementKind.CONSUME, van.id, part.id, quantity, job_id=job_id, flagged=unexpected
        )
    movements = posting.write()
    session.flush()
    return movements


def return_unused(
    session: Session, technician_id: int, job_id: int, lines: Sequence[Line], *, actor: Actor
) -> list[Movement]:
    """Put parts reported used on a job back into the van: they were not used after all.

    Raises
    ------
    InvalidMovement
        Bad lines, or more returned than the job has recorded used.
    """
    van = _van(session, technician_id)
    checked = checked_lines(session, lines)
    posting = Posting(session, actor, "brought back unused")
    # Counted under the van's locks: a report sent twice at once finds the first's return.
    posting.lock((van.id, part.id) for part, _ in checked)
    used = {
        part_id: units
        for part_id, units in session.execute(
            select(Movement.part_id, -func.sum(Movement.on_hand_change))
            .where(
                Movement.job_id == job_id,
                Movement.location_id == van.id,
                Movement.kind.in_([MovementKind.CONSUME, MovementKind.RETURN]),
            )
            .group_by(Movement.part_id)
        )
    }
    problems = [
        f"lines[{number}].quantity: {quantity} returned, but {used.get(part.id, 0)}"
        f" of {part.sku} are recorded used on this job"
        for number, (part, quantity) in enumerate(checked)
        if quantity > used.get(part.id, 0)
    ]
    if problems:
        raise InvalidMovement(problems)
    for part, quantity in checked:
        posting.post(MovementKind.RETURN, van.id, part.id, quantity, job_id=job_id)
        fill_shortages(posting, van.id, part.id)
    movements = posting.write()
    session.flush()
    return movements


def _van(session: Session, technician_id: int) -> StockLocation:
    van = session.scalar(
        select(StockLocation).where(
            StockLocation.kind == LocationKind.VAN, StockLocation.technician_id == technician_id
        )
    )
    if van is None:
        raise InvalidMovement(["technician: has no van to take parts from"])
    return van

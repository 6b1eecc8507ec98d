"""Queries over stock locations that other packages use (read-only for now)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from inventory.models import LocationKind, StockLocation


def warehouses(session: Session) -> list[StockLocation]:
    """Every warehouse with its stock levels loaded, in creation order."""
    return list(
        session.scalars(
            select(StockLocation)
            .where(StockLocation.kind == LocationKind.WAREHOUSE)
            .options(selectinload(StockLocation.levels))
            .order_by(StockLocation.id)
        )
    )


def vans_of(session: Session, technician_ids: Iterable[int]) -> dict[int, StockLocation]:
    """The vans of these technicians (by technician id), stock levels loaded."""
    return {
        van.technician_id: van
        for van in session.scalars(
            select(StockLocation)
            .where(
                StockLocation.kind == LocationKind.VAN,
                StockLocation.technician_id.in_(list(technician_ids)),
            )
            .options(selectinload(StockLocation.levels))
        )
        if van.technician_id is not None
    }

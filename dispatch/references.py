"""Human-readable, gap-free references such as ``SR-2026-000042``.

Each series (prefix and year) has one ``ReferenceCounter`` row. Numbers are
taken with a single ``UPDATE ... RETURNING``: on PostgreSQL the row lock it
holds until the caller's transaction ends makes concurrent callers wait their
turn, and on SQLite the database-wide write lock does the same. A rolled-back
transaction gives its number back, so references have no gaps.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.models import ReferenceCounter

# Each dialect's INSERT that knows ON CONFLICT; the counter only runs on these two.
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def next_reference(session: Session, prefix: str, *, year: int) -> str:
    """Take the next number of the series ``{prefix}-{year}``.

    The counter row is created on first use. Two callers may both find it
    missing; the insert ignores the conflict, so the loser simply increments
    the winner's row.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work; the increment commits or rolls
        back with it.
    prefix : str
        Kind of reference, e.g. ``"SR"`` for service requests.
    year : int
        Year the numbering restarts in.

    Returns
    -------
    str
        ``{prefix}-{year}-{number}`` with the number zero-padded to six
        digits, e.g. ``"SR-2026-000042"``.

    Raises
    ------
    NotImplementedError
        If the database is neither PostgreSQL nor SQLite.
    """
    series = f"{prefix}-{year}"
    value = _increment(session, series)
    if value is None:
        session.execute(
            _insert(session)
            .values(series=series, value=0)
            .on_conflict_do_nothing(index_elements=[ReferenceCounter.series])
        )
        value = _increment(session, series)
    return f"{series}-{value:06d}"


def _increment(session: Session, series: str) -> int | None:
    """Add one to the series' counter and return it; None if the row does not exist."""
    statement = (
        update(ReferenceCounter)
        .where(ReferenceCounter.series == series)
        .values(value=ReferenceCounter.value + 1)
        .returning(ReferenceCounter.value)
    )
    return session.execute(statement).scalar_one_or_none()


def _insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise NotImplementedError(f"reference counters need PostgreSQL or SQLite, not {dialect}")
    return _INSERTS[dialect](ReferenceCounter)

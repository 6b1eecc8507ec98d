"""Human-readable references such as ``SR-2026-000042``.

Each series (prefix and year) has one ``ReferenceCounter`` row. Numbers are
taken with a single ``UPDATE ... RETURNING``: on PostgreSQL the row lock it
holds until the caller's transaction ends makes concurrent callers wait their
turn, and on SQLite the database-wide write lock does the same. A rolled-back
transaction gives its number back, so the counter itself leaves no gaps.

Intake references must also be free of rows written by other means (scenario
import). Importers refuse ids shaped like intake references
(``is_intake_reference``), and intake skips any number already in use
(``next_intake_reference``), so an old import cannot block intake.
"""

from __future__ import annotations

import re

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.models import Job, ReferenceCounter, ServiceRequest

#: Prefix of service-request references; their first job adds ``-1``.
INTAKE_PREFIX = "SR"

# Every shape intake and the lifecycle hand out, with or without the prefix (a scenario
# job ``<id>`` also gets the request ``SR-<id>``): ``SR-2026-000042``, its job
# ``SR-2026-000042-1``, that job's follow-ups ``...-1-F1``, ``...-1-F2``. Numbers have at
# least six digits (zero-padded) and more once a year passes 999,999 requests.
_INTAKE_REFERENCE = re.compile(rf"(?:{INTAKE_PREFIX}-)?\d{{4}}-\d{{6,}}(?:-\d+|-F\d+)*")


def is_intake_reference(text: str) -> bool:
    """Whether ``text`` has the shape of a reference intake hands out, now or later.

    Importers call this to refuse ids that would collide with a future service
    request or one of its jobs (``2026-000042`` would become the request
    ``SR-2026-000042``).

    Parameters
    ----------
    text : str
        An id from outside, e.g. a scenario job id.

    Returns
    -------
    bool
        True for ``SR-2026-000042``, ``SR-2026-000042-1``, ``SR-2026-000042-1-F1``
        and the same without ``SR-``.
    """
    return _INTAKE_REFERENCE.fullmatch(text) is not None


def next_intake_reference(session: Session, *, year: int) -> str:
    """Take the next service-request reference that no row uses yet.

    A number is skipped when a request or job already has its reference or one
    derived from it (``-1``, ``-1-F1``), which only rows written outside intake
    can have. The loop ends: every pass takes a higher number, and only the
    finitely many existing rows can be in its way. Concurrent callers wait on
    the counter's row lock, so two of them never check the same number.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the caller's unit of work.
    year : int
        Year the numbering restarts in.

    Returns
    -------
    str
        ``SR-{year}-{number}``, e.g. ``"SR-2026-000042"``.
    """
    while True:
        reference = next_reference(session, INTAKE_PREFIX, year=year)
        if not _in_use(session, reference):
            return reference


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
    if dialect == "postgresql":
        return postgresql.insert(ReferenceCounter)
    if dialect == "sqlite":
        return sqlite.insert(ReferenceCounter)
    raise NotImplementedError(f"reference counters need PostgreSQL or SQLite, not {dialect}")


def _in_use(session: Session, reference: str) -> bool:
    """Whether a request or job has ``reference`` or a reference derived from it."""
    derived = reference + "-"
    taken = or_(
        exists().where(
            or_(
                ServiceRequest.reference == reference,
                ServiceRequest.reference.startswith(derived, autoescape=True),
            )
        ),
        exists().where(
            or_(Job.reference == reference, Job.reference.startswith(derived, autoescape=True))
        ),
    )
    return bool(session.scalar(select(taken)))

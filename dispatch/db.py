"""Engine settings, the declarative base and the clock of the dispatch models.

The column types dispatch shares with inventory live in ``dbtypes``.

Nothing here creates an engine at import time: the app factory, the CLI and the
tests build one from configuration (see ``web/app.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session

from dbtypes import NAMING_CONVENTION, UTCDateTime

# Migration 0001 names the column type as ``dispatch.db.UTCDateTime``: it stays exported.
__all__ = [
    "Base",
    "UTCDateTime",
    "make_engine",
    "normalize_database_url",
    "savepoint",
    "utcnow",
]


def utcnow() -> datetime:
    """Now as an aware UTC instant; the one clock the models use."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the dispatch domain."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs given without a driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings every process needs.

    SQLite gets foreign keys switched on (it ignores them otherwise); every pool
    pings connections so a restarted PostgreSQL does not fail the next request.
    """
    engine = create_engine(normalize_database_url(url), pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint, so that a refused insert leaves the caller's transaction usable.

    The sqlite3 driver sends BEGIN only before its first write. A SAVEPOINT sent first
    would itself become the outermost transaction, and releasing it would commit the
    caller's work early; so on SQLite a real transaction is opened first.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver_connection = connection.connection.driver_connection
        if driver_connection is not None and not driver_connection.in_transaction:
            connection.exec_driver_sql("BEGIN")
    with session.begin_nested():
        yield

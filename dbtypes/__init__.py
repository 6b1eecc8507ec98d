"""Column types and the constraint naming convention that dispatch and inventory share.

A neutral layer below both domains: it imports SQLAlchemy and nothing of ours, so
neither domain has to import the other to get the same types.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Enum as SAEnum
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names: Alembic needs them to alter or drop constraints,
# and SQLite's batch migrations cannot find unnamed ones.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always read back timezone-aware.

    SQLite has no time zone support, so naive values would silently mix local and
    UTC times; this type refuses naive input and attaches UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(enum_class: type[enum.Enum], name: str | None = None, *, length: int = 32) -> SAEnum:
    """A portable enum column storing the member *values* with a CHECK constraint.

    ``name`` names the constraint; give one when a table has two columns of the
    same enum, since constraint names must be unique per table.
    """
    return SAEnum(
        enum_class,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=name or enum_class.__name__.lower(),
    )


# SQLite only auto-increments INTEGER PRIMARY KEY columns, not BIGINT ones.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

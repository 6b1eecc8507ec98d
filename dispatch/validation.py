"""Bounded input types shared by every reader of user input.

The database is the wrong place to learn that input is unusable: SQLite stores
a 1 MB name, a NUL byte or an out-of-range number without complaint, while
PostgreSQL refuses the same value with a driver error in the middle of a
transaction. These types refuse such values in validation, with a message per
field, so both databases see only what both can store.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

#: Range of a PostgreSQL ``integer`` column (SQLite's is wider; the narrower one rules).
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1

#: A skill name: lowercase letters and digits, then also ``-`` and ``_``; at most 40 characters.
SKILL_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")

#: Widths of the columns free text ends up in.
NAME_LENGTH = 200
CODE_LENGTH = 40
PHONE_LENGTH = 40
EMAIL_LENGTH = 254
#: Longest description or note accepted; the columns are unbounded ``TEXT``.
LONG_TEXT_LENGTH = 4000


def refuse_nul(value: str) -> str:
    """``value`` unchanged; NUL characters are refused (PostgreSQL cannot store them)."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    return value


def skill_name(value: str) -> str:
    """``value`` unchanged if it is a well-formed skill name (``SKILL_PATTERN``)."""
    if SKILL_PATTERN.fullmatch(value) is None:
        raise PydanticCustomError(
            "skill_name",
            "a skill name is 1 to 40 lowercase letters, digits, '-' or '_',"
            " starting with a letter or digit (e.g. 'heat-pump')",
        )
    return value


def utc_instant(value: datetime) -> datetime:
    """``value`` converted to UTC; naive values and instants outside years 1-9999 are refused.

    ``0001-01-01T00:00:00+01:00`` is a valid local time whose UTC value lies
    before year 1; converting it here turns what would be an ``OverflowError``
    deep in the database layer into a field error.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "timezone_required",
            "give a time zone offset, e.g. 2026-03-02T09:00:00+01:00 or ...Z for UTC",
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "instant_out_of_range", "is outside years 1 to 9999 once converted to UTC"
        ) from None


NoNul = AfterValidator(refuse_nul)

#: A name or title: a ``String(200)`` column.
Name = Annotated[str, StringConstraints(max_length=NAME_LENGTH), NoNul]
#: A code or SKU: a ``String(40)`` column.
Code = Annotated[str, StringConstraints(min_length=1, max_length=CODE_LENGTH), NoNul]
#: A skill a job requires or a technician has, e.g. ``gas`` or ``heat-pump``.
Skill = Annotated[str, AfterValidator(skill_name)]
#: A phone number: a ``String(40)`` column.
Phone = Annotated[str, StringConstraints(max_length=PHONE_LENGTH), NoNul]
#: A description or note: a ``TEXT`` column, bounded so one field cannot hold megabytes.
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_LENGTH), NoNul]
#: An aware instant, converted to UTC and representable there.
UtcInstant = Annotated[datetime, AfterValidator(utc_instant)]
#: A whole number a PostgreSQL ``integer`` column holds.
DbInt = Annotated[int, Field(ge=INT_MIN, le=INT_MAX)]
#: A count or duration: positive, and within a PostgreSQL ``integer``.
PositiveDbInt = Annotated[int, Field(gt=0, le=INT_MAX)]

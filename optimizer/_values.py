"""Checks and message helpers for JSON values, shared by the scenario and plan readers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeGuard

#: Largest whole number a document may hold: a 32-bit integer, as databases store it.
MAX_WHOLE = 2**31 - 1

#: Marks a key that is absent, as distinct from one that is null.
ABSENT: Any = object()


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """A JSON number that is not NaN or infinite (Python's json reads both)."""
    if isinstance(value, float):
        return math.isfinite(value)
    # An int is finite, and may be too large for math.isfinite (which converts to float).
    return isinstance(value, int) and not isinstance(value, bool)


def shown(value: Any) -> str:
    """How a message shows a wrong value: ``nothing`` when absent, else a short repr."""
    if value is ABSENT:
        return "nothing"
    return shorten(repr(value), 60)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, so that a huge value cannot flood a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BadValue(ValueError):
    """A value a reader refuses; the message says why, for the reader's problem list."""


def wall_clock(value: Any, zone: tzinfo) -> datetime:
    """The local time in ``zone`` (naive) of an ISO 8601 instant with a UTC offset.

    Raises
    ------
    BadValue
        Not such an instant, or one whose UTC value lies outside years 1-9999.
    """
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadValue(f"must be an ISO 8601 instant with offset, got {shown(value)}") from None
    if moment.tzinfo is None:
        raise BadValue(f"needs a UTC offset, got {shown(value)}")
    try:
        moment.astimezone(UTC)
        return moment.astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        raise BadValue(f"{shown(value)} is out of range once converted to UTC") from None

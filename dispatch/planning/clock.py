"""The one conversion between the database's instants and the optimizer's ticks.

The optimizer counts a service day in seconds since local midnight, read on the wall
clock of the day's time zone (FORMAT.md: clock times and instants are wall-clock times on
the date), as ``optimizer.scenario_problem`` does. On a day when the clocks change, 10:00
is therefore 36,000 ticks whatever the offset. Everything in ``dispatch.planning``
converts through ``DayClock`` so that the two directions cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class DayClock:
    """Ticks (seconds on the local wall clock since midnight) of one day in one time zone."""

    day: date
    zone: ZoneInfo

    @classmethod
    def of(cls, day: date, timezone: str) -> DayClock:
        """The clock of ``day`` in the IANA zone ``timezone``.

        Raises
        ------
        ValueError
            ``timezone`` names no time zone.
        """
        try:
            return cls(day, ZoneInfo(timezone))
        # ValueError: not a well-formed key; OSError: a folder of zones, a name too long.
        except (ValueError, OSError, ZoneInfoNotFoundError):
            raise ValueError(f"unknown time zone {timezone!r}") from None

    def ticks(self, instant: datetime) -> int:
        """Ticks of an aware ``instant``, rounded down to the whole second.

        Instants before the day's midnight or after the next one give negative ticks
        or ticks of 86,400 and more: an SLA already overdue, a window into the night.

        Raises
        ------
        ValueError
            ``instant`` is naive: without an offset it names no moment.
        """
        if instant.tzinfo is None:
            raise ValueError(f"naive datetime {instant!r}: pass an aware instant")
        local = instant.astimezone(self.zone).replace(tzinfo=None)
        return (local - datetime.combine(self.day, time.min)) // _SECOND

    def clock_ticks(self, clock: time) -> int:
        """Ticks of a local clock time on the day (shifts, breaks, opening hours)."""
        return clock.hour * 3600 + clock.minute * 60 + clock.second

    def instant(self, ticks: int) -> datetime:
        """The aware UTC instant at ``ticks``: the inverse of ``ticks`` for whole seconds.

        A wall-clock time the day has twice (clocks going back) is read as the first; one
        it skips (clocks going forward) lands an hour later, as ``zoneinfo`` reads it.
        """
        local = datetime.combine(self.day, time.min) + timedelta(seconds=ticks)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

"""The re-plan policy and the settings it is read from.

Which priorities publish their re-plan themselves and how long a re-plan searches are
read from the environment when a process starts (the web app, the scheduler), so that a
value one cannot use stops it with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dispatch.enums import Priority

#: Only an emergency's re-plan publishes itself by default: it cannot wait for someone to
#: look, while any other re-plan moves people's days and a dispatcher should agree first.
DEFAULT_AUTO_PUBLISH = frozenset({Priority.EMERGENCY})
#: Seconds a re-plan searches. The proposal must be ready within 10 s of the request
#: (issue 8); starting the solve process, reading the day and saving the proposal take
#: 3-4 s more on 2 cores (benchmarks/replan_day.py).
DEFAULT_REPLAN_TIME_LIMIT_S = 5


@dataclass(frozen=True, slots=True)
class ReplanPolicy:
    """Which priorities publish their re-plan themselves, and how long a re-plan searches."""

    auto_publish: frozenset[Priority] = DEFAULT_AUTO_PUBLISH
    time_limit_s: int = DEFAULT_REPLAN_TIME_LIMIT_S

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError(f"a re-plan's time limit must be positive, not {self.time_limit_s}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ReplanPolicy:
        """The policy the variables set: ``FIELDOPS_AUTO_PUBLISH`` (priorities, comma
        separated, or ``none``) and ``FIELDOPS_REPLAN_TIME_LIMIT_S``.

        Raises
        ------
        ValueError
            A value is not one; the message names the variable and what it takes.
        """
        return cls(
            auto_publish=priorities_setting(
                environ, "FIELDOPS_AUTO_PUBLISH", DEFAULT_AUTO_PUBLISH
            ),
            time_limit_s=positive_int_setting(
                environ, "FIELDOPS_REPLAN_TIME_LIMIT_S", DEFAULT_REPLAN_TIME_LIMIT_S
            ),
        )


def positive_int_setting(environ: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of at least 1 from ``environ[name]``, or ``default`` when unset."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {text!r}")
    return value


def priorities_setting(
    environ: Mapping[str, str], name: str, default: frozenset[Priority]
) -> frozenset[Priority]:
    """Priorities listed in ``environ[name]`` (comma separated; ``none`` for none)."""
    text = environ.get(name)
    if text is None:
        return default
    names = {part.strip().lower() for part in text.split(",")} - {""}
    if names <= {"none"}:
        return frozenset()
    allowed = [p.value for p in Priority]
    unknown = sorted(names - set(allowed))
    if unknown:
        raise ValueError(
            f"{name} lists {', '.join(unknown)}; it takes priorities from"
            f" {', '.join(allowed)} (comma separated), or none"
        )
    return frozenset(Priority(value) for value in names)


def most_urgent(priorities: Iterable[Priority]) -> Priority:
    """The most urgent of ``priorities`` (emergency before high before normal before low)."""
    return min(priorities, key=list(Priority).index)

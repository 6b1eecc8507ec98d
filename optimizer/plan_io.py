"""Writing and reading ``fieldops-plan/1`` documents, side by side so they stay in step.

Times of a service day are ISO 8601 instants whose local wall clock on the scenario's
date is the tick (seconds since local midnight); times of a Solomon instance are plain
numbers in its own minutes. Reading only turns JSON back into a Solution and names
every malformed field; ``optimizer.check.check_plan_document`` then checks the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from optimizer._values import MAX_WHOLE, BadValue, is_finite_number, shown, wall_clock
from optimizer.problem import Problem
from optimizer.solution import Reason, Route, Solution, Stop, StopKind, Unassigned

PLAN_FORMAT = "fieldops-plan/1"
#: Largest size of a time written as a number (Solomon plans), in the instance's units.
MAX_PLAN_TIME = 10**9


def plan_document(problem: Problem, solution: Solution) -> dict[str, Any]:
    """The ``fieldops-plan/1`` document of a solution (numbers for Solomon times)."""
    to_time = _time_writer(problem)
    routes = []
    for route in solution.routes:
        stops = []
        for stop in route.stops:
            entry: dict[str, Any] = {"type": stop.kind.value}
            if stop.kind != StopKind.BREAK:
                entry["id"] = stop.id
            entry |= {
                "arrival": to_time(stop.arrival),
                "start": to_time(stop.start),
                "end": to_time(stop.end),
            }
            if stop.kind == StopKind.WAREHOUSE:
                entry["pickup"] = dict(stop.pickup)
            stops.append(entry)
        routes.append(
            {
                "technician": route.technician,
                "depart": to_time(route.depart),
                "return": to_time(route.return_),
                "stops": stops,
            }
        )
    return {
        "format": PLAN_FORMAT,
        "scenario": problem.name,
        "routes": routes,
        "unassigned": [
            {"id": u.job, "code": u.code.value, "reason": u.reason} for u in solution.unassigned
        ],
    }


def _time_writer(problem: Problem) -> Callable[[int], str | float]:
    if problem.date is None or problem.timezone is None:
        return lambda ticks: ticks / problem.ticks_per_minute
    midnight = datetime.combine(date.fromisoformat(problem.date), datetime.min.time())
    zone = ZoneInfo(problem.timezone)

    def instant(ticks: int) -> str:
        # Wall-clock arithmetic, the same reading as the scenario's "HH:MM".
        local = midnight + timedelta(seconds=ticks)
        return local.replace(tzinfo=zone).isoformat()

    return instant


class PlanReader:
    """Turns a plan document into a Solution, noting each malformed field in ``problems``."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.shifts = {technician.id: technician.shift for technician in problem.technicians}
        self.problems: list[str] = []
        # Instants on a service day (its zone and local midnight), numbers otherwise.
        self.day: tuple[ZoneInfo, datetime] | None = None
        if problem.date is not None and problem.timezone is not None:
            midnight = datetime.combine(date.fromisoformat(problem.date), datetime.min.time())
            self.day = (ZoneInfo(problem.timezone), midnight)

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def solution(self, document: Any) -> Solution | None:
        """The plan's Solution, or None when any field is malformed."""
        if not isinstance(document, dict):
            self.fail("plan", "must be a JSON object")
            return None
        if document.get("format") != PLAN_FORMAT:
            self.fail("format", f"must be {PLAN_FORMAT!r}, got {shown(document.get('format'))}")
        if document.get("scenario") != self.problem.name:
            self.fail(
                "scenario",
                f"the plan is for {shown(document.get('scenario'))}, not for {shown(self.problem.name)}",
            )
        routes = [
            self._route(f"routes[{i}]", item)
            for i, item in enumerate(self._list(document, "routes"))
        ]
        unassigned = [
            self._unassigned(f"unassigned[{i}]", item)
            for i, item in enumerate(self._list(document, "unassigned"))
        ]
        if self.problems:
            return None
        return Solution(
            routes=tuple(r for r in routes if r is not None),
            unassigned=tuple(u for u in unassigned if u is not None),
        )

    def _list(self, document: dict[str, Any], key: str) -> list[Any]:
        value = document.get(key)
        if not isinstance(value, list):
            self.fail(key, "must be a list")
            return []
        return value

    def _time(self, where: str, value: Any) -> int | None:
        """Ticks of an instant (service day) or of a number of minutes (otherwise)."""
        if self.day is None:
            if not is_finite_number(value) or abs(value) > MAX_PLAN_TIME:
                self.fail(where, f"must be a number from {-MAX_PLAN_TIME} to {MAX_PLAN_TIME}")
                return None
            return round(value * self.problem.ticks_per_minute)
        # Wall-clock time since the day's local midnight, as the scenario's "HH:MM" reads.
        zone, midnight = self.day
        try:
            local = wall_clock(value, zone)
        except BadValue as problem:
            self.fail(where, str(problem))
            return None
        seconds = (local - midnight).total_seconds()
        return round(seconds * self.problem.ticks_per_minute / 60)

    def _route(self, where: str, item: Any) -> Route | None:
        if not isinstance(item, dict):
            self.fail(where, "must be an object")
            return None
        technician_id = item.get("technician")
        if not isinstance(technician_id, str) or not technician_id:
            self.fail(
                f"{where}.technician", f"must be a technician id, got {shown(technician_id)}"
            )
            return None
        # Numbers (Solomon) may leave depart and return out: the shift bounds them.
        shift = self.shifts.get(technician_id) if self.day is None else None
        if "depart" not in item and shift is not None:
            depart: int | None = shift.start
        else:
            depart = self._time(f"{where}.depart", item.get("depart"))
        if "return" not in item and shift is not None:
            return_: int | None = shift.end
        else:
            return_ = self._time(f"{where}.return", item.get("return"))
        raw_stops = item.get("stops")
        if not isinstance(raw_stops, list):
            self.fail(f"{where}.stops", "must be a list")
            return None
        stops = [self._stop(f"{where}.stops[{i}]", s) for i, s in enumerate(raw_stops)]
        if depart is None or return_ is None:
            return None
        return Route(technician_id, depart, return_, tuple(s for s in stops if s is not None))

    def _stop(self, where: str, item: Any) -> Stop | None:
        if not isinstance(item, dict):
            self.fail(where, "must be an object")
            return None
        try:
            kind = StopKind(str(item.get("type")))
        except ValueError:
            self.fail(
                f"{where}.type",
                f"must be one of {', '.join(StopKind)}, got {shown(item.get('type'))}",
            )
            return None
        ident = ""
        if kind != StopKind.BREAK:
            given = item.get("id")
            if not isinstance(given, str) or not given:
                self.fail(f"{where}.id", f"must be a {kind.value} id, got {shown(given)}")
                return None
            ident = given
        start = self._time(f"{where}.start", item.get("start"))
        end = self._time(f"{where}.end", item.get("end"))
        # A break may leave out its arrival: it starts where the technician is.
        if kind == StopKind.BREAK and "arrival" not in item:
            arrival = start
        else:
            arrival = self._time(f"{where}.arrival", item.get("arrival"))
        pickup: dict[str, int] | None = {}
        if kind == StopKind.WAREHOUSE:
            pickup = self._pickup(f"{where}.pickup", item.get("pickup", {}))
        if arrival is None or start is None or end is None or pickup is None:
            return None
        return Stop(kind, ident, arrival, start, end, pickup)

    def _pickup(self, where: str, value: Any) -> dict[str, int] | None:
        if not isinstance(value, dict) or not all(
            isinstance(quantity, int)
            and not isinstance(quantity, bool)
            and abs(quantity) <= MAX_WHOLE
            for quantity in value.values()
        ):
            self.fail(where, "must map part numbers to whole quantities (32-bit)")
            return None
        return value

    def _unassigned(self, where: str, item: Any) -> Unassigned | None:
        if not isinstance(item, dict):
            self.fail(where, "must be an object")
            return None
        job_id = item.get("id")
        if not isinstance(job_id, str) or not job_id:
            self.fail(f"{where}.id", f"must be a job id, got {shown(job_id)}")
            return None
        reason = item.get("reason", "")
        if not isinstance(reason, str):
            self.fail(f"{where}.reason", f"must be a sentence, got {shown(reason)}")
            return None
        try:
            # The format makes the code optional and the checker reads only the reason;
            # a missing code stands in as NOT_ENOUGH_TIME just to build the Unassigned.
            code = Reason(item.get("code", Reason.NOT_ENOUGH_TIME))
        except ValueError:
            self.fail(
                f"{where}.code",
                f"must be one of {', '.join(Reason)}, got {shown(item.get('code'))}",
            )
            return None
        return Unassigned(job_id, code, reason)

"""Reading problems: ``fieldops-scenario/1`` documents and Solomon instances.

This is the one reader of the scenario format (``docs/FORMAT.md``): the planner and
the database import both go through ``scenario_problem``, so a document is either
good for both or refused by both, with every problem named at once. Clock times
``"HH:MM"`` become seconds since local midnight of the scenario's date; instants
(``sla_due``) are read in the scenario's time zone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optimizer._scenario_reader import SCENARIO_FORMAT, ScenarioReader, entity_label
from optimizer.problem import (
    InvalidProblem,
    Job,
    Location,
    Priority,
    Problem,
    Technician,
    TimeWindow,
)
from optimizer.travel import EuclideanTravel

__all__ = [
    "SCENARIO_FORMAT",
    "SOLOMON_TICKS_PER_UNIT",
    "entity_label",
    "read_problem",
    "scenario_problem",
    "solomon_problem",
]

SOLOMON_TICKS_PER_UNIT = 1000

#: What vrplib raises on text that is not a Solomon instance.
_VRPLIB_ERRORS = (ValueError, IndexError, KeyError, TypeError, RuntimeError)


def read_problem(path: str | Path) -> Problem:
    """A scenario (JSON) or a Solomon instance (text), told apart by content.

    Raises
    ------
    InvalidProblem
        The file is neither, or breaks a rule of its format.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidProblem([f"{path.name}: not a text file"]) from None
    if text.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidProblem([f"{path.name}: not JSON ({exc})"]) from None
        except RecursionError:
            raise InvalidProblem([f"{path.name}: JSON nested too deeply"]) from None
        return scenario_problem(document)
    return solomon_problem(path)


def scenario_problem(document: Any) -> Problem:
    """Build the problem of a ``fieldops-scenario/1`` document, checking every field.

    Raises
    ------
    InvalidProblem
        Listing every malformed field, each named as ``jobs[3] (J-0004).duration_min``.
    """
    reader = ScenarioReader()
    problem = reader.read(document)
    if problem is None:
        raise InvalidProblem(reader.problems)
    return problem


def solomon_problem(path: str | Path) -> Problem:
    """A Solomon VRPTW instance: depot node 0, identical vehicles, all jobs required.

    Coordinates are planar (``EuclideanTravel``); every job gets the emergency
    penalty so that a plan leaves nothing out when it can serve everything.
    """
    import vrplib

    try:
        data = vrplib.read_instance(str(path), instance_format="solomon")
    except _VRPLIB_ERRORS as exc:  # vrplib reports bad text with whatever its parsing hit
        raise InvalidProblem(
            [
                (
                    f"{Path(path).name}: neither a fieldops-scenario/1 document nor a Solomon"
                    f" instance ({exc.__class__.__name__}: {exc})"
                )
            ]
        ) from None
    scale = SOLOMON_TICKS_PER_UNIT
    coords = data["node_coord"]
    windows = data["time_window"]
    depot = Location(float(coords[0][0]), float(coords[0][1]))
    horizon = TimeWindow(int(windows[0][0] * scale), int(windows[0][1] * scale))
    technicians = tuple(
        Technician(
            id=str(v + 1),
            start=depot,
            end=depot,
            shift=horizon,
            capacity=int(data["capacity"]),
        )
        for v in range(int(data["vehicles"]))
    )
    jobs = tuple(
        Job(
            id=str(n),
            location=Location(float(coords[n][0]), float(coords[n][1])),
            service=round(data["service_time"][n] * scale),
            priority=Priority.EMERGENCY,
            window=TimeWindow(int(windows[n][0] * scale), int(windows[n][1] * scale)),
            demand=int(data["demand"][n]),
        )
        for n in range(1, len(coords))
    )
    return Problem(
        name=str(data["name"]),
        travel=EuclideanTravel(scale),
        technicians=technicians,
        jobs=jobs,
        ticks_per_minute=scale,
    )

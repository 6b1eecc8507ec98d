"""What the database adds to the checks of a scenario, after the format's reader passed it.

``optimizer.io.scenario_problem`` is the one judge of the format. What it cannot know is
what is stored already and how the rows are shaped: ids taken by other rows or by codes
the import generates (vans, request references), ids intake will hand out later, and
column widths. Every such problem is listed at once, like the reader's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dispatch.models import Job, ServiceDay, ServiceRequest, Technician
from dispatch.references import is_intake_reference
from dispatch.validation import SKILL_PATTERN
from inventory.models import LocationKind, Part, StockLocation
from inventory.service import VAN_PREFIX, locations_by_code, van_code, van_name
from optimizer.io import entity_label

#: How an import stores a job: its request is ``SR-<job id>``.
REQUEST_PREFIX = "SR-"


def request_reference(job_id: str) -> str:
    """The reference of the service request an imported job comes with."""
    return f"{REQUEST_PREFIX}{job_id}"


def database_problems(
    session: Session, data: dict[str, Any], *, replacing: Collection[str] = ()
) -> list[str]:
    """Every reason the database cannot take a scenario the format's reader accepted.

    Parameters
    ----------
    session
        Read only.
    data
        A document ``optimizer.io.scenario_problem`` accepted.
    replacing
        Ids of stored jobs the import deletes first (``--replace``): not collisions.

    Returns
    -------
    list of str
        Each problem naming entity and field, as the reader names them; empty when the
        scenario can be written.
    """
    problems: list[str] = []
    problems += _lengths(data)
    problems += _skill_names(data)
    problems += _job_collisions(session, data, set(replacing))
    problems += _location_collisions(session, data)
    return problems


def _labelled(data: dict[str, Any], section: str, key: str = "id") -> list[tuple[str, Any]]:
    """The objects of a section with the label the reader gives them: ``jobs[3] (J-0004)``."""
    return [
        (entity_label(section, index, item[key]), item) for index, item in enumerate(data[section])
    ]


def _too_long(
    where: str,
    value: str,
    column: InstrumentedAttribute[str],
    stored_as: Callable[[str], str] | None = None,
) -> list[str]:
    """A problem when ``value``, stored as ``stored_as(value)`` (default: as is), overflows."""
    sql_type = column.expression.type
    assert isinstance(sql_type, String) and sql_type.length is not None  # sized text only
    stored = value if stored_as is None else stored_as(value)
    if len(stored) <= sql_type.length:
        return []
    allowed = sql_type.length - (len(stored) - len(value))
    how = ""
    if stored_as is not None:
        field = where.rsplit(".", 1)[-1]
        how = f" (stored as {stored_as(f'<{field}>')}, at most {sql_type.length})"
    return [f"{where}: at most {allowed} characters{how}, got {len(value)}"]


def _lengths(data: dict[str, Any]) -> list[str]:
    problems = _too_long("name", data["name"], ServiceDay.name)
    problems += _too_long("timezone", data["timezone"], ServiceDay.timezone)
    for where, part in _labelled(data, "parts", "sku"):
        problems += _too_long(f"{where}.sku", part["sku"], Part.sku)
        problems += _too_long(f"{where}.name", part["name"], Part.name)
    for where, warehouse in _labelled(data, "warehouses"):
        problems += _too_long(f"{where}.id", warehouse["id"], StockLocation.code)
        problems += _too_long(f"{where}.name", warehouse["name"], StockLocation.name)
    # A field stored twice is named once, by the narrower of its two columns.
    for where, technician in _labelled(data, "technicians"):
        code, name = technician["id"], technician["name"]
        problems += _too_long(f"{where}.id", code, StockLocation.code, van_code) or _too_long(
            f"{where}.id", code, Technician.code
        )
        problems += _too_long(f"{where}.name", name, StockLocation.name, van_name) or _too_long(
            f"{where}.name", name, Technician.name
        )
    for where, job in _labelled(data, "jobs"):
        job_id = job["id"]
        problems += _too_long(
            f"{where}.id", job_id, ServiceRequest.reference, request_reference
        ) or _too_long(f"{where}.id", job_id, Job.reference)
        if "title" in job:
            problems += _too_long(f"{where}.title", job["title"], Job.title)
    return problems


def _skill_names(data: dict[str, Any]) -> list[str]:
    """Skills the catalog could never name (it takes ``SKILL_PATTERN`` only) match no request."""
    problems = []
    for section in ("technicians", "jobs"):
        for where, item in _labelled(data, section):
            problems += [
                f"{where}.skills: {skill!r} is not a skill name (1 to 40 lowercase letters,"
                " digits, '-' or '_', e.g. 'heat-pump')"
                for skill in item["skills"]
                if SKILL_PATTERN.fullmatch(skill) is None
            ]
    return problems


def _job_collisions(session: Session, data: dict[str, Any], replacing: set[str]) -> list[str]:
    """Job ids stored already (and not being replaced), or shaped like intake's references."""
    ids = [job["id"] for job in data["jobs"]]
    requests = [request_reference(job_id) for job_id in ids]
    # One query each for all ids: a day has up to thousands of jobs.
    taken = set(session.scalars(select(Job.reference).where(Job.reference.in_(ids))))
    taken |= {
        reference.removeprefix(REQUEST_PREFIX)
        for reference in session.scalars(
            select(ServiceRequest.reference).where(ServiceRequest.reference.in_(requests))
        )
    }
    problems = []
    for where, job in _labelled(data, "jobs"):
        if is_intake_reference(job["id"]):
            problems.append(
                f"{where}.id: has the shape of a service-request reference intake hands out"
                " (such as 2026-000042 or SR-2026-000042-1); choose another id"
            )
        elif job["id"] in taken - replacing:
            problems.append(f"{where}.id: job {job['id']} already exists")
    return problems


def _location_collisions(session: Session, data: dict[str, Any]) -> list[str]:
    """Warehouse ids and generated van codes must name one stock location each."""
    codes = [technician["id"] for technician in data["technicians"]]
    technicians = {
        code: ident
        for code, ident in session.execute(
            select(Technician.code, Technician.id).where(Technician.code.in_(codes))
        )
    }
    warehouse_codes = {warehouse["id"] for warehouse in data["warehouses"]}
    stored = locations_by_code(session, warehouse_codes | {van_code(code) for code in codes})
    problems = []
    for where, warehouse in _labelled(data, "warehouses"):
        code = warehouse["id"]
        location = stored.get(code)
        if code.startswith(VAN_PREFIX) or (
            location is not None and location.kind == LocationKind.VAN
        ):
            problems.append(
                f"{where}.id: {VAN_PREFIX}… codes are reserved for technicians' vans;"
                " choose another warehouse id"
            )
    for where, technician in _labelled(data, "technicians"):
        code = van_code(technician["id"])
        location = stored.get(code)
        if location is None or code in warehouse_codes:
            continue  # free, or reported on the warehouse that takes it
        if location.kind == LocationKind.WAREHOUSE or location.technician_id != technicians.get(
            technician["id"]
        ):
            problems.append(f"{where}.id: its van's code {code} belongs to another stock location")
    return problems

"""Bulk intake from CSV: every row through the same intake service as the web form.

A file is all or nothing: every row is checked, problems are reported with their
row number, and the caller's transaction is rolled back when any row fails.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.enums import Channel
from dispatch.geocoding import Geocoder
from dispatch.intake import IntakeError, submit_request
from dispatch.models import ServiceRequest

REQUESTER_COLUMNS = {
    "requester_name": "name",
    "requester_email": "email",
    "requester_phone": "phone",
}
SITE_COLUMNS = (
    "address",
    "latitude",
    "longitude",
    "access_notes",
    "contact_name",
    "contact_phone",
)
REQUEST_COLUMNS = (
    "channel",
    "customer_name",
    "catalog_code",
    "title",
    "description",
    "impact",
    "urgency",
    "window_start",
    "window_end",
    "service_date",
)
COLUMNS = frozenset(REQUESTER_COLUMNS) | frozenset(SITE_COLUMNS) | frozenset(REQUEST_COLUMNS)


class CsvImportError(ValueError):
    """The file was refused; ``problems`` names row, field and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def import_requests(
    session: Session, lines: Iterable[str], *, geocoder: Geocoder, now: datetime
) -> list[ServiceRequest]:
    """Record one service request per CSV row (header row first; see ``COLUMNS``).

    Rows without a ``channel`` column count as phone requests keyed in by staff.

    Raises
    ------
    CsvImportError
        Listing every problem of every row; the caller must roll back.
    """
    reader = csv.DictReader(lines)
    unknown = sorted(set(reader.fieldnames or ()) - COLUMNS)
    if not reader.fieldnames:
        raise CsvImportError(["the file is empty: expected a header row"])
    if unknown:
        raise CsvImportError([f"header: unknown column(s) {', '.join(unknown)}"])
    created, problems = [], []
    for row in reader:
        try:
            created.append(submit_request(session, _submission(row), geocoder=geocoder, now=now))
        except IntakeError as exc:
            problems += [f"row {reader.line_num}, {e.field}: {e.message}" for e in exc.errors]
    if problems:
        raise CsvImportError(problems)
    return created


def _submission(row: dict[str, Any]) -> dict[str, Any]:
    """A flat CSV row in the nested shape intake expects (empty cells left out)."""

    def given(column: str) -> bool:
        return bool((row.get(column) or "").strip())

    return {
        "channel": row.get("channel") or Channel.PHONE.value,
        "requester": {key: row[col] for col, key in REQUESTER_COLUMNS.items() if given(col)},
        "site": {col: row[col] for col in SITE_COLUMNS if given(col)},
        **{col: row[col] for col in REQUEST_COLUMNS if col != "channel" and given(col)},
    }

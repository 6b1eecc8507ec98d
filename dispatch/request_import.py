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
from dispatch.intake import FLAT_FIELDS, IntakeError, flat_submission, submit_request
from dispatch.models import ServiceRequest

#: Columns a CSV file may have: intake's flat field names.
COLUMNS = FLAT_FIELDS


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
    """A row as a submission; rows without a channel were keyed in by staff from a call."""
    return {"channel": Channel.PHONE.value, **flat_submission(row)}

"""Bulk intake from CSV: every row through the same intake service as the web form.

A file is all or nothing: every row is checked, problems are reported with their
row number, and the caller's transaction is rolled back when any row fails.
The columns are intake's flat fields (``COLUMNS``; README.md, "CSV import").
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.enums import Channel
from dispatch.geocoding import Geocoder, StopAfterFailure
from dispatch.intake import FORM_FIELDS, IntakeError, flat_name, flat_submission, submit_request
from dispatch.models import ServiceRequest

#: Columns a CSV file may have, in the order the documentation lists them.
COLUMNS = tuple(field.name for field in FORM_FIELDS)


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
    Once the geocoder has failed, the remaining addresses are refused without
    asking it again, so a file does not wait for a dead service row after row.

    Raises
    ------
    CsvImportError
        Listing every problem of every row; the caller must roll back. A row
        that cannot be read at all (more cells than the header, an unclosed
        quote, a cell over the csv module's size limit) ends the reading there.
    """
    # strict: an unclosed quote is an error instead of swallowing the lines after it.
    reader = csv.DictReader(lines, strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise CsvImportError([f"header: {_reason(exc)}"]) from None
    if not header:
        raise CsvImportError(["the file is empty: expected a header row"])
    _check_header(header)
    geocoder = StopAfterFailure(geocoder)
    rows = _Rows(reader)
    created, problems = [], []
    for number, row in rows:
        try:
            created.append(submit_request(session, _submission(row), geocoder=geocoder, now=now))
        except IntakeError as exc:
            problems += [f"row {number}, {flat_name(e.field)}: {e.message}" for e in exc.errors]
    problems += rows.unreadable
    if problems:
        raise CsvImportError(problems)
    return created


def _check_header(header: Sequence[str]) -> None:
    """Refuse unknown, blank and repeated column names (a repeated one would hide a value)."""
    problems = []
    unknown = sorted({name or "(blank)" for name in header} - set(COLUMNS))
    if unknown:
        allowed = ", ".join(COLUMNS)
        problems.append(f"header: unknown column(s) {', '.join(unknown)}; allowed: {allowed}")
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        problems.append(f"header: column(s) {', '.join(repeated)} given more than once")
    if problems:
        raise CsvImportError(problems)


class _Rows:
    """The data rows of a CSV file with their numbers, stopping at the first unreadable one.

    A row's number is the line of the file it starts on (the header is line 1),
    which is where a person looks for an unclosed quote.
    """

    def __init__(self, reader: csv.DictReader[str]) -> None:
        self._reader = reader
        self.unreadable: list[str] = []

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        while True:
            # The DictReader's own line_num is only updated by rows read successfully.
            number = self._reader.reader.line_num + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.unreadable.append(f"row {number}: {_reason(exc)}")
                return
            if None in row:  # DictReader files cells beyond the header under None
                self.unreadable.append(
                    f"row {number}: {len(row[None])} cell(s) more than the header has columns"
                )
                return
            yield number, row


def _reason(exc: csv.Error) -> str:
    """The csv module's complaint in words a person editing the file can act on."""
    message = str(exc)
    if message.startswith("field larger than field limit"):
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    if message == "unexpected end of data":
        return 'a quoted cell is never closed (a " without its closing ")'
    if "expected after" in message:
        return f"a quoted cell goes on after its closing quote ({message})"
    return message


def _submission(row: dict[str, Any]) -> dict[str, Any]:
    """A row as a submission; rows without a channel were keyed in by staff from a call."""
    return {"channel": Channel.PHONE.value, **flat_submission(row)}

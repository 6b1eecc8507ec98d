"""CSV import and export of parts and stock: all rows or none, every problem by row number.

Export writes what import reads. The header is row 1, so the first part or stock line
is row 2, as a spreadsheet numbers it. Stock quantities are posted as count adjustments
(reason ``CSV import``), so an import is in the ledger like any count.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.ledger import MAX_QUANTITY, Actor, set_on_hand
from inventory.models import Part, ReorderRule, StockLocation

PARTS_HEADER = ("sku", "name", "unit", "unit_cost")
STOCK_HEADER = ("location", "sku", "on_hand", "reorder_point", "reorder_quantity")
#: Most data rows one import takes.
MAX_ROWS = 10_000
#: Longest text of each column (the columns' sizes in the database).
LENGTHS = {"sku": 40, "name": 200, "unit": 20, "location": 40}
#: Numbers as a spreadsheet writes them: ASCII digits, no exponent, grouping or ``_``
#: (all of which ``int`` and ``Decimal`` would read).
WHOLE = re.compile(r"-?[0-9]+")
AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str | None
    message: str


class CsvRefused(ValueError):
    """The file is refused as a whole; ``errors`` names every problem by row and column."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=lambda error: error.row)  # as the file reads
        first = self.errors[0]
        super().__init__(
            f"{len(errors)} problem(s), the first in row {first.row}: {first.message}"
        )


def export_parts(session: Session) -> str:
    """Every part, in creation order."""
    return _write(
        PARTS_HEADER,
        (
            (p.sku, p.name, p.unit, "" if p.unit_cost is None else str(p.unit_cost))
            for p in session.scalars(select(Part).order_by(Part.id))
        ),
    )


def export_stock(session: Session, *, location_id: int | None = None) -> str:
    """Every location's (or one's) stock on hand and reorder rules, by location code and
    listing order; a rule's part the location has none of is listed with 0."""
    rules = {
        (rule.location_id, rule.part_id): rule for rule in session.scalars(select(ReorderRule))
    }
    locations = select(StockLocation).order_by(StockLocation.code)
    if location_id is not None:
        locations = locations.where(StockLocation.id == location_id)
    rows = []
    for location in session.scalars(locations):
        listed = set()
        for level in location.levels:
            rule = rules.get((location.id, level.part_id))
            if level.on_hand or rule:
                listed.add(level.part_id)
                rows.append(_stock_row(location.code, level.part.sku, level.on_hand, rule))
        for (held_at, part_id), rule in rules.items():
            if held_at == location.id and part_id not in listed:
                rows.append(_stock_row(location.code, rule.part.sku, 0, rule))
    return _write(STOCK_HEADER, rows)


def import_parts(session: Session, text: str) -> int:
    """Create or update parts by SKU; the number of rows.

    Raises
    ------
    CsvRefused
    """
    rows, errors = _read(text, PARTS_HEADER)
    parsed = []
    seen: dict[str, int] = {}
    for number, row in rows:
        check = _Checker(number, errors)
        sku = check.text(row, "sku")
        name = check.text(row, "name")
        unit = check.text(row, "unit", default="each")
        cost = check.cost(row)
        if sku and sku in seen:
            check.fail("sku", f"{sku} is also in row {seen[sku]}")
        seen.setdefault(sku, number)
        parsed.append((sku, name, unit, cost))
    if errors:
        raise CsvRefused(errors)
    existing = {p.sku: p for p in session.scalars(select(Part).where(Part.sku.in_(list(seen))))}
    for sku, name, unit, cost in parsed:
        part = existing.get(sku) or Part(sku=sku)
        part.name, part.unit, part.unit_cost = name, unit, cost
        session.add(part)
    session.flush()
    return len(parsed)


def import_stock(session: Session, text: str, *, actor: Actor) -> int:
    """Set stock on hand (as count adjustments) and reorder rules; the number of rows.

    Empty reorder columns leave the location's rule for that part as it is.

    Raises
    ------
    CsvRefused
        Among the problems an unknown location or SKU, a quantity that is not a whole
        number in range, a reorder point without a quantity or the reverse, a row twice.
    """
    rows, errors = _read(text, STOCK_HEADER)
    codes = {row.get("location", "").strip() for _, row in rows}
    skus = {row.get("sku", "").strip() for _, row in rows}
    locations = {
        loc.code: loc
        for loc in session.scalars(select(StockLocation).where(StockLocation.code.in_(codes)))
    }
    parts = {p.sku: p for p in session.scalars(select(Part).where(Part.sku.in_(skus)))}
    parsed: list[tuple[StockLocation, Part, int, tuple[int, int] | None]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in rows:
        check = _Checker(number, errors)
        code, sku = check.text(row, "location"), check.text(row, "sku")
        on_hand = check.whole(row, "on_hand", lowest=0)
        point = check.whole(row, "reorder_point", lowest=0, optional=True)
        quantity = check.whole(row, "reorder_quantity", lowest=1, optional=True)
        location, part = locations.get(code), parts.get(sku)
        if code and location is None:
            check.fail("location", f"no stock location {code!r}")
        if sku and part is None:
            check.fail("sku", f"unknown SKU {sku!r}")
        if (point is None) != (quantity is None):
            check.fail("reorder_point", "give both reorder_point and reorder_quantity, or neither")
        if code and sku and (code, sku) in seen:
            check.fail("sku", f"{sku} at {code} is also in row {seen[code, sku]}")
        seen.setdefault((code, sku), number)
        if location is not None and part is not None and on_hand is not None:
            rule = (point, quantity) if point is not None and quantity is not None else None
            parsed.append((location, part, on_hand, rule))
    if errors:
        raise CsvRefused(errors)
    by_location: dict[int, dict[int, int]] = {}
    for location, part, on_hand, rule in parsed:
        by_location.setdefault(location.id, {})[part.id] = on_hand
        if rule is not None:
            _set_rule(session, location.id, part.id, *rule)
    for location_id, quantities in by_location.items():
        set_on_hand(session, location_id, quantities, actor=actor, reason="CSV import")
    session.flush()
    return len(parsed)


def _set_rule(session: Session, location_id: int, part_id: int, point: int, quantity: int) -> None:
    rule = session.get(ReorderRule, (location_id, part_id))
    if rule is None:
        rule = ReorderRule(location_id=location_id, part_id=part_id)
        session.add(rule)
    rule.reorder_point, rule.reorder_quantity = point, quantity


def _stock_row(code: str, sku: str, on_hand: int, rule: ReorderRule | None) -> tuple[Any, ...]:
    if rule is None:
        return (code, sku, on_hand, "", "")
    return (code, sku, on_hand, rule.reorder_point, rule.reorder_quantity)


def _write(header: Sequence[str], rows: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _read(
    text: str, header: Sequence[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The data rows (with their row numbers) and the problems of the file's shape."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    # Rows are numbered as records, not lines: a quoted cell may hold a line break.
    number = 1
    try:
        found = next(reader, None)
        if found is None:
            return [], [RowError(1, None, "the file is empty: the first row must be the header")]
        names = [name.strip() for name in found]
        if sorted(names) != sorted(header):
            expected = ",".join(header)
            return [], [RowError(1, None, f"the header must name the columns {expected}")]
        rows: list[tuple[int, dict[str, str]]] = []
        errors: list[RowError] = []
        data_rows = 0
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            data_rows += 1
            if data_rows > MAX_ROWS:
                return [], [RowError(number, None, f"more than {MAX_ROWS} rows: split the file")]
            if len(row) != len(names):
                errors.append(
                    RowError(number, None, f"{len(row)} values for the {len(names)} columns")
                )
                continue
            rows.append((number, dict(zip(names, row, strict=True))))
    except csv.Error as exc:
        return [], [RowError(number + 1, None, f"not readable as CSV: {exc}")]
    if not rows and not errors:
        errors.append(RowError(2, None, "no data rows under the header"))
    return rows, errors


@dataclass
class _Checker:
    """Reads one row's cells, noting each problem against the row and column."""

    row: int
    errors: list[RowError]

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row, column, message))

    def text(self, row: dict[str, str], column: str, *, default: str | None = None) -> str:
        """The cell's text; empty when it is refused, so no later check repeats the news."""
        value = row[column].strip()
        if not value and default is not None:
            return default
        if not value:
            self.fail(column, "must not be empty")
        elif len(value) > LENGTHS[column]:
            self.fail(column, f"longer than {LENGTHS[column]} characters")
            return ""
        return value

    def whole(
        self, row: dict[str, str], column: str, *, lowest: int, optional: bool = False
    ) -> int | None:
        value = row[column].strip()
        if not value:
            if not optional:
                self.fail(column, "must not be empty")
            return None
        if not WHOLE.fullmatch(value):
            self.fail(column, f"{value!r} is not a whole number")
            return None
        number = Decimal(value)
        return int(number) if self._in_range(column, number, lowest) else None

    def cost(self, row: dict[str, str]) -> Decimal | None:
        value = row["unit_cost"].strip()
        if not value:
            return None
        if not AMOUNT.fullmatch(value):
            self.fail("unit_cost", f"{value!r} is not an amount like 12.50")
            return None
        cost = Decimal(value)
        if not self._in_range("unit_cost", cost, 0):
            return None
        if cost != cost.quantize(Decimal("0.01")):
            self.fail("unit_cost", f"{value!r} has more than two decimals")
            return None
        return cost

    def _in_range(self, column: str, number: Decimal, lowest: int) -> bool:
        """Compared as a ``Decimal``: ``int`` refuses to read very long digit strings."""
        if lowest <= number <= MAX_QUANTITY:
            return True
        self.fail(column, f"{number} is out of range ({lowest} to {MAX_QUANTITY})")
        return False

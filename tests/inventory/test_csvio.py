"""inventory.csvio: parts and stock files, all rows or none, every problem by row number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import csvio, ledger, replenishment, service
from inventory.csvio import CsvRefused
from inventory.models import Movement, Part, ReorderRule
from tests.inventory.test_service import central

HEADER = "sku,name,unit,unit_cost\n"


def refused(session: Session, text: str) -> set[tuple[int, str | None]]:
    with pytest.raises(CsvRefused) as caught:
        csvio.import_parts(session, text)
    session.rollback()
    return {(error.row, error.column) for error in caught.value.errors}


def test_parts_round_trip(session: Session) -> None:
    text = HEADER + "FLT,Air filter,each,12.50\nCBL,Cable 2.5mm,m,\n"
    assert csvio.import_parts(session, text) == 2
    session.commit()
    assert csvio.export_parts(session) == text
    stored = {p.sku: (p.unit, p.unit_cost) for p in session.scalars(select(Part))}
    assert stored == {"FLT": ("each", Decimal("12.50")), "CBL": ("m", None)}


def test_every_bad_row_is_named_and_nothing_is_imported(session: Session) -> None:
    text = (
        HEADER
        + "FLT,Air filter,each,12.5\n"
        + ",No SKU,each,1\n"
        + "BELT,,each,1\n"
        + "SEAL,Seal,each,1.234\n"
        + "FLT,Again,each,1\n"
        + "GAS,Gas,each,-1\n"
        + f"{'X' * 41},Long,each,1\n"
        + "ODD,Odd,each,NaN\n"
        + "ROW,too,many,values,here\n"
    )
    assert refused(session, text) == {
        (3, "sku"),
        (4, "name"),
        (5, "unit_cost"),
        (6, "sku"),
        (7, "unit_cost"),
        (8, "sku"),
        (9, "unit_cost"),
        (10, None),
    }
    assert session.scalars(select(Part)).all() == []


@pytest.mark.parametrize(
    "text",
    ["", "sku,name\nFLT,Filter\n", HEADER, "\ufeff" + HEADER + '"unclosed,x,y,z\n'],
    ids=["empty", "wrong header", "no rows", "bad quoting"],
)
def test_a_file_of_the_wrong_shape_is_refused(session: Session, text: str) -> None:
    assert refused(session, text)


def test_stock_import_posts_count_adjustments(session: Session) -> None:
    csvio.import_parts(session, HEADER + "FLT,Air filter,each,\n")
    service.upsert_warehouses(session, [central(FLT=2)])
    rows = csvio.import_stock(
        session,
        "location,sku,on_hand,reorder_point,reorder_quantity\nWH-1,FLT,5,1,4\n",
        actor=ledger.Actor(1, "wes"),
    )
    session.commit()
    assert rows == 1
    assert "WH-1,FLT,5,1,4" in csvio.export_stock(session)
    history = session.execute(
        select(Movement.on_hand_change, Movement.reason).order_by(Movement.id)
    ).all()
    assert [tuple(row) for row in history] == [(2, "import"), (3, "CSV import")]


STOCK_HEADER = "location,sku,on_hand,reorder_point,reorder_quantity\n"


@pytest.fixture
def stocked(session: Session) -> Session:
    """Parts FLT and BELT; WH-1 holding 2 FLT, with no reorder rule yet."""
    csvio.import_parts(session, HEADER + "FLT,Air filter,each,\nBELT,Belt,each,3.00\n")
    service.upsert_warehouses(session, [central(FLT=2)])
    session.commit()
    return session


def import_stock(session: Session, text: str) -> int:
    return csvio.import_stock(session, text, actor=ledger.Actor(1, "wes"))


def ledger_rows(session: Session) -> int:
    return len(session.scalars(select(Movement.id)).all())


def stock_refused(session: Session, text: str) -> list[tuple[int, str | None, str]]:
    before = ledger_rows(session)
    with pytest.raises(CsvRefused) as caught:
        import_stock(session, text)
    session.rollback()
    assert ledger_rows(session) == before
    assert session.scalars(select(ReorderRule)).all() == []
    return [(error.row, error.column, error.message) for error in caught.value.errors]


def test_every_bad_stock_row_is_named_and_nothing_is_applied(stocked: Session) -> None:
    """Each row's own part (P<row>), so that only the duplicate row is a duplicate."""
    csvio.import_parts(stocked, HEADER + "".join(f"P{n},Part {n},each,\n" for n in range(2, 16)))
    stocked.commit()
    text = (
        STOCK_HEADER
        + "WH-1,FLT,5,1,4\n"  # good, yet not applied
        + "WH-9,P3,1,,\n"
        + "WH-1,NOPE,1,,\n"
        + "WH-1,P5,-2,,\n"
        + "WH-1,P6,1.5,,\n"
        + "WH-1,P7,1_000,,\n"
        + "WH-1,P8,1e3,,\n"
        + "WH-1,P9,1,2,\n"
        + "WH-1,P10,1,,0\n"
        + "WH-1,FLT,3,,\n"
        + f"{'W' * 41},P12,1,,\n"
        + "WH-1,P13,2000000,,\n"
        + "WH-1,P14,1\n"
        + "WH-1,P15,,,\n"
    )
    errors = stock_refused(stocked, text)
    assert [(row, column) for row, column, _ in errors] == [
        (3, "location"),
        (4, "sku"),
        (5, "on_hand"),
        (6, "on_hand"),
        (7, "on_hand"),
        (8, "on_hand"),
        (9, "reorder_point"),
        (10, "reorder_quantity"),
        (11, "sku"),
        (12, "location"),
        (13, "on_hand"),
        (14, None),
        (15, "on_hand"),
    ]
    messages = {row: message for row, _, message in errors}
    assert messages[3] == "no stock location 'WH-9'"
    assert messages[5] == "-2 is out of range (0 to 1000000)"
    assert messages[6] == "'1.5' is not a whole number"
    assert messages[11] == "FLT at WH-1 is also in row 2"
    assert messages[14] == "3 values for the 5 columns"


def test_rows_are_numbered_as_a_spreadsheet_numbers_them(session: Session) -> None:
    """A quoted cell holding a line break is one row; blank rows still count."""
    text = HEADER + '"FLT","Air\nfilter",each,1\n\nBELT,Belt,each,x\n'
    assert refused(session, text) == {(4, "unit_cost")}


def test_a_quantity_too_long_to_read_as_int_is_out_of_range(stocked: Session) -> None:
    errors = stock_refused(stocked, STOCK_HEADER + f"WH-1,FLT,{'0' * 5000}1{'0' * 7},,\n")
    assert [(row, column) for row, column, _ in errors] == [(2, "on_hand")]


def test_too_many_rows_are_refused_whole(
    stocked: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvio, "MAX_ROWS", 2)
    errors = stock_refused(stocked, STOCK_HEADER + "WH-1,FLT,1,,\n" * 3)
    assert errors == [(4, None, "more than 2 rows: split the file")]


def test_missing_and_extra_columns_are_refused(stocked: Session) -> None:
    missing = "location,sku,on_hand\nWH-1,FLT,1\n"
    extra = STOCK_HEADER.strip() + ",colour\nWH-1,FLT,1,,,red\n"
    for text in (missing, extra):
        errors = stock_refused(stocked, text)
        assert [(row, column) for row, column, _ in errors] == [(1, None)]


def test_the_columns_may_come_in_any_order(stocked: Session) -> None:
    assert (
        import_stock(
            stocked, "sku,on_hand,location,reorder_quantity,reorder_point\nFLT,4,WH-1,5,1\n"
        )
        == 1
    )
    stocked.commit()
    assert csvio.export_stock(stocked) == STOCK_HEADER + "WH-1,FLT,4,1,5\n"


def test_empty_reorder_columns_leave_the_rule_as_it_was(stocked: Session) -> None:
    import_stock(stocked, STOCK_HEADER + "WH-1,FLT,2,1,4\n")
    import_stock(stocked, STOCK_HEADER + "WH-1,FLT,3,,\n")
    stocked.commit()
    rule = stocked.scalars(select(ReorderRule)).one()
    assert (rule.reorder_point, rule.reorder_quantity) == (1, 4)
    assert csvio.export_stock(stocked) == STOCK_HEADER + "WH-1,FLT,3,1,4\n"


def test_stock_export_reads_back_unchanged_and_posts_nothing(stocked: Session) -> None:
    """A rule for a part the location never held is exported with 0 on hand."""
    replenishment.set_reorder_rule(stocked, "WH-1", "BELT", point=2, quantity=6)
    stocked.commit()
    exported = csvio.export_stock(stocked)
    assert exported == STOCK_HEADER + "WH-1,FLT,2,,\nWH-1,BELT,0,2,6\n"
    before = ledger_rows(stocked)
    assert import_stock(stocked, exported) == 2
    stocked.commit()
    assert ledger_rows(stocked) == before
    assert csvio.export_stock(stocked) == exported


def test_a_location_exports_its_own_lines(stocked: Session) -> None:
    (warehouse,) = service.locations_by_code(stocked, {"WH-1"}).values()
    assert csvio.export_stock(stocked, location_id=warehouse.id).endswith("WH-1,FLT,2,,\n")
    assert csvio.export_stock(stocked, location_id=-1) == STOCK_HEADER

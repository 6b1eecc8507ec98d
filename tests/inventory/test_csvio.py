"""inventory.csvio: parts and stock files, all rows or none, every problem by row number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import csvio, ledger, service
from inventory.csvio import CsvRefused
from inventory.models import Movement, Part
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

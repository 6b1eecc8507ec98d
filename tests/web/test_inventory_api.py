"""The inventory API: stock, the ledger, receipts, transfers, counts, pick lists, reorder
suggestions and CSV; who may see and do what; bad input refused with nothing written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from dispatch.enums import Role
from dispatch.users import create_user
from inventory import ledger, reservations, service
from inventory.models import Movement
from inventory.service import VanData, WarehouseData
from mobile_api.http import SESSIONS_KEY
from tests.helpers import make_technician
from tests.web.conftest import PASSWORD

URL = "/api/v1/inventory"
DAY = date(2026, 11, 24)


def sessions(app: Flask) -> Session:
    session: Session = app.extensions[SESSIONS_KEY]()
    return session


@pytest.fixture
def stocked(app: Flask) -> dict[str, int]:
    """WH-1 (5 filters, 2 belts), VAN-T-01 (1 filter) and VAN-T-02 (empty); technician
    ids by code. T-01 signs in as ``tina``."""
    with sessions(app) as session:
        service.upsert_parts(session, {"FLT": "Air filter", "BELT": "Belt", "SEAL": "Seal kit"})
        service.upsert_warehouses(
            session,
            [
                WarehouseData(
                    "WH-1", "North", 59.9, 10.7, time(7), time(17), 10, {"FLT": 5, "BELT": 2}
                )
            ],
        )
        technicians = {code: make_technician(session, code) for code in ("T-01", "T-02")}
        service.upsert_vans(
            session,
            [
                VanData(technicians["T-01"].id, "T-01", "Tina", {"FLT": 1}),
                VanData(technicians["T-02"].id, "T-02", "Tom", {}),
            ],
        )
        tina = create_user(
            session, username="tina", password=PASSWORD, roles=[Role.TECHNICIAN], full_name="Tina"
        )
        technicians["T-01"].user_id = tina.id
        session.commit()
        return {code: t.id for code, t in technicians.items()}


@pytest.fixture
def clerk(add_user: Callable[..., int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    add_user("wes", Role.WAREHOUSE)
    return login("wes")


@pytest.fixture
def tina(stocked: dict[str, int], login: Callable[[str], FlaskClient]) -> FlaskClient:
    return login("tina")


def body(response: TestResponse, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    found = response.get_json()
    assert isinstance(found, dict)
    return found


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    found = body(response, status)
    assert response.mimetype == "application/problem+json"
    return found


def ledger_rows(app: Flask) -> int:
    with sessions(app) as session:
        return session.scalar(select(func.count()).select_from(Movement)) or 0


def stock_of(client: FlaskClient, location: str) -> dict[str, tuple[int, int]]:
    rows = body(client.get(f"{URL}/stock?location={location}"))["stock"]
    return {row["sku"]: (row["on_hand"], row["reserved"]) for row in rows}


def test_receive_transfer_and_count_post_to_the_ledger(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    received = body(
        clerk.post(
            f"{URL}/receipts",
            json={
                "location": "WH-1",
                "reason": "PO 17",
                "lines": [{"sku": "SEAL", "quantity": 4}],
            },
        ),
        201,
    )
    assert [
        (m["kind"], m["sku"], m["on_hand_change"], m["actor"]) for m in received["movements"]
    ] == [("receive", "SEAL", 4, "wes")]
    body(
        clerk.post(
            f"{URL}/transfers",
            json={
                "from": "WH-1",
                "to": "VAN-T-02",
                "reason": "van load",
                "lines": [{"sku": "SEAL", "quantity": 3}],
            },
        ),
        201,
    )
    counted = body(
        clerk.post(
            f"{URL}/counts",
            json={
                "location": "WH-1",
                "reason": "cycle count",
                "lines": [{"sku": "FLT", "counted": 4}],
            },
        ),
        201,
    )
    assert [(m["kind"], m["on_hand_change"]) for m in counted["movements"]] == [("adjust", -1)]
    assert stock_of(clerk, "WH-1") == {"FLT": (4, 0), "BELT": (2, 0), "SEAL": (1, 0)}
    assert stock_of(clerk, "VAN-T-02") == {"SEAL": (3, 0)}
    history = body(clerk.get(f"{URL}/movements?location=WH-1&kind=transfer_out"))["movements"]
    assert [(m["sku"], m["counterpart"], m["on_hand_change"]) for m in history] == [
        ("SEAL", "VAN-T-02", -3)
    ]


def _receipt(sku: str = "FLT", quantity: Any = 1, location: str = "WH-1") -> dict[str, Any]:
    return {"location": location, "reason": "PO", "lines": [{"sku": sku, "quantity": quantity}]}


BAD = [
    ("unknown SKU", "/receipts", _receipt(sku="NOPE"), 422, "unknown SKU 'NOPE'"),
    ("zero", "/receipts", _receipt(quantity=0), 422, "lines.0.quantity"),
    ("negative", "/receipts", _receipt(quantity=-3), 422, "lines.0.quantity"),
    ("fractional", "/receipts", _receipt(quantity=1.5), 422, "lines.0.quantity"),
    ("quantity as text", "/receipts", _receipt(quantity="2"), 422, "lines.0.quantity"),
    ("receipt into a van", "/receipts", _receipt(location="VAN-T-01"), 422, "is a van"),
    ("unknown location", "/receipts", _receipt(location="WH-9"), 422, "no stock location 'WH-9'"),
    ("no lines", "/receipts", {"location": "WH-1", "reason": "PO", "lines": []}, 422, "lines"),
    ("extra field", "/receipts", {**_receipt(), "price": 3}, 422, "price"),
    (
        "transfer beyond what is available",
        "/transfers",
        {
            "from": "WH-1",
            "to": "VAN-T-01",
            "reason": "x",
            "lines": [{"sku": "BELT", "quantity": 3}],
        },
        409,
        "WH-1 has 2 of BELT available, 3 needed",
    ),
    (
        "transfer to the same place",
        "/transfers",
        {"from": "WH-1", "to": "WH-1", "reason": "x", "lines": [{"sku": "FLT", "quantity": 1}]},
        422,
        "same location",
    ),
    (
        "negative count",
        "/counts",
        {"location": "WH-1", "reason": "count", "lines": [{"sku": "FLT", "counted": -1}]},
        422,
        "lines.0.counted",
    ),
    (
        "a SKU twice",
        "/counts",
        {
            "location": "WH-1",
            "reason": "count",
            "lines": [{"sku": "FLT", "counted": 1}, {"sku": "FLT", "counted": 2}],
        },
        422,
        "FLT is listed twice",
    ),
]


@pytest.mark.parametrize(
    ("path", "payload", "status", "named"), [case[1:] for case in BAD], ids=[c[0] for c in BAD]
)
def test_bad_input_is_a_problem_naming_it_and_writes_nothing(
    app: Flask,
    stocked: dict[str, int],
    clerk: FlaskClient,
    path: str,
    payload: dict[str, Any],
    status: int,
    named: str,
) -> None:
    before = ledger_rows(app)
    found = problem(clerk.post(URL + path, json=payload), status)
    assert named in found["detail"]
    assert ledger_rows(app) == before


def test_a_body_that_is_not_json_is_a_400(stocked: dict[str, int], clerk: FlaskClient) -> None:
    problem(clerk.post(f"{URL}/receipts", data="lines=1", content_type="application/json"), 400)


def test_a_technician_sees_only_their_own_van_and_writes_nothing(
    app: Flask, stocked: dict[str, int], tina: FlaskClient
) -> None:
    assert stock_of(tina, "VAN-T-01") == {"FLT": (1, 0)}
    everything = body(tina.get(f"{URL}/stock"))["stock"]
    assert {row["location"] for row in everything} == {"VAN-T-01"}
    assert [loc["code"] for loc in body(tina.get(f"{URL}/locations"))["locations"]] == ["VAN-T-01"]
    for foreign in ("WH-1", "VAN-T-02"):
        problem(tina.get(f"{URL}/stock?location={foreign}"), 404)
        problem(tina.get(f"{URL}/movements?location={foreign}"), 404)
    before = ledger_rows(app)
    count = {"location": "VAN-T-01", "reason": "count", "lines": [{"sku": "FLT", "counted": 9}]}
    problem(tina.post(f"{URL}/counts", json=count), 403)
    problem(tina.post(f"{URL}/receipts", json=_receipt()), 403)
    problem(
        tina.post(
            f"{URL}/stock.csv",
            data="location,sku,on_hand,reorder_point,reorder_quantity\n",
            content_type="text/csv",
        ),
        403,
    )
    assert ledger_rows(app) == before


def test_requesters_and_strangers_may_not_look(
    app: Flask,
    stocked: dict[str, int],
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    add_user("rita", Role.REQUESTER)
    requester = login("rita")
    for path in ("/stock", "/movements", "/locations", "/parts.csv", f"/picklists/{DAY}"):
        problem(requester.get(URL + path), 403)
        problem(app.test_client().get(URL + path), 401)


def test_dispatchers_read_but_do_not_post(
    stocked: dict[str, int], add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    add_user("dana", Role.DISPATCHER)
    dispatcher = login("dana")
    assert stock_of(dispatcher, "WH-1") == {"FLT": (5, 0), "BELT": (2, 0)}
    problem(dispatcher.post(f"{URL}/receipts", json=_receipt()), 403)


def test_stock_and_movements_page_through_every_row(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    for sku in ("SEAL", "BELT", "FLT"):
        body(clerk.post(f"{URL}/receipts", json=_receipt(sku=sku, quantity=2)), 201)
    seen, link = [], f"{URL}/stock?limit=2"
    while link:
        page = body(clerk.get(link))
        assert len(page["stock"]) <= 2
        seen += [(row["location"], row["sku"]) for row in page["stock"]]
        link = page["next"]
    assert seen == [("VAN-T-01", "FLT"), ("WH-1", "BELT"), ("WH-1", "FLT"), ("WH-1", "SEAL")]
    ids, link = [], f"{URL}/movements?limit=3&location=WH-1"
    while link:
        page = body(clerk.get(link))
        ids += [m["id"] for m in page["movements"]]
        link = page["next"]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 5
    problem(clerk.get(f"{URL}/movements?kind=teleport"), 400)
    problem(clerk.get(f"{URL}/stock?limit=0"), 400)


def test_csv_round_trip_and_all_or_nothing(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    stock_csv = (
        "location,sku,on_hand,reorder_point,reorder_quantity\nWH-1,FLT,8,3,10\nVAN-T-02,SEAL,2,,\n"
    )
    assert body(clerk.post(f"{URL}/stock.csv", data=stock_csv, content_type="text/csv")) == {
        "rows": 2
    }
    exported = clerk.get(f"{URL}/stock.csv").get_data(as_text=True)
    assert "WH-1,FLT,8,3,10" in exported and "VAN-T-02,SEAL,2,," in exported
    assert (
        body(clerk.post(f"{URL}/stock.csv", data=exported, content_type="text/csv"))["rows"] >= 4
    )
    assert clerk.get(f"{URL}/stock.csv").get_data(as_text=True) == exported
    parts = clerk.get(f"{URL}/parts.csv").get_data(as_text=True)
    assert parts.splitlines()[0] == "sku,name,unit,unit_cost"
    before = ledger_rows(app)
    bad = (
        "location,sku,on_hand,reorder_point,reorder_quantity\n"
        "WH-1,FLT,1,,\n"
        "WH-1,NOPE,2,,\n"
        "WH-9,FLT,1.5,3,\n"
    )
    refused = problem(clerk.post(f"{URL}/stock.csv", data=bad, content_type="text/csv"), 422)
    assert {(e["row"], e["column"]) for e in refused["errors"]} == {
        (3, "sku"),
        (4, "on_hand"),
        (4, "location"),
        (4, "reorder_point"),
    }
    assert ledger_rows(app) == before
    assert stock_of(clerk, "WH-1")["FLT"] == (8, 0), "the good first row was not applied either"


def test_pick_lists_and_their_confirmation(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient, tina: FlaskClient
) -> None:
    with sessions(app) as session:
        reservations.reserve_day(
            session,
            DAY,
            [
                reservations.VanRoute(
                    stocked["T-01"],
                    [reservations.Pickup("WH-1", {"FLT": 2}), reservations.Visit(9, {"FLT": 3})],
                )
            ],
            plan_id=None,
            actor=ledger.SYSTEM,
            reason="plan",
        )
        session.commit()
    lines = body(clerk.get(f"{URL}/picklists/{DAY}"))["lines"]
    assert [(l["van"], l["warehouse"], l["sku"], l["quantity"]) for l in lines] == [
        ("VAN-T-01", "WH-1", "FLT", 2)
    ]
    assert body(tina.get(f"{URL}/picklists/{DAY}"))["lines"] == lines
    problem(tina.get(f"{URL}/picklists/{DAY}?van=VAN-T-02"), 404)
    assert clerk.get(f"{URL}/picklists/{DAY}?format=csv").mimetype == "text/csv"
    problem(clerk.get(f"{URL}/picklists/2026-02-30"), 404)
    confirmed = body(clerk.post(f"{URL}/picklists/{DAY}/confirm", json={"van": "VAN-T-01"}), 201)
    assert {m["kind"] for m in confirmed["movements"]} == {
        "release",
        "transfer_out",
        "transfer_in",
        "reserve",
    }
    assert body(clerk.get(f"{URL}/picklists/{DAY}"))["lines"] == []
    assert stock_of(clerk, "VAN-T-01") == {"FLT": (3, 3)}


def test_reorder_suggestions_follow_the_rules(stocked: dict[str, int], clerk: FlaskClient) -> None:
    rules = "location,sku,on_hand,reorder_point,reorder_quantity\nWH-1,BELT,2,3,5\n"
    body(clerk.post(f"{URL}/stock.csv", data=rules, content_type="text/csv"))
    found = body(clerk.get(f"{URL}/reorder-suggestions"))["suggestions"]
    assert [(s["location"], s["sku"], s["suggested"], s["source"]) for s in found] == [
        ("WH-1", "BELT", 5, None)
    ]
    problem(clerk.get(f"{URL}/reorder-suggestions?horizon_days=-1"), 400)

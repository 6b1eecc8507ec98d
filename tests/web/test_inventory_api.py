"""The inventory API: stock, the ledger, receipts, transfers, counts, pick lists, reorder
suggestions and CSV; who may see and do what; bad input refused with nothing written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from dispatch.enums import Role
from dispatch.users import create_user
from inventory import ledger, replenishment, reservations, service
from inventory.field import consume
from inventory.models import Movement, Part
from inventory.service import VanData, WarehouseData
from mobile_api.http import SESSIONS_KEY
from tests.helpers import make_job, make_technician
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
        "transfer with one of its lines short",
        "/transfers",
        {
            "from": "WH-1",
            "to": "VAN-T-01",
            "reason": "x",
            "lines": [{"sku": "FLT", "quantity": 1}, {"sku": "BELT", "quantity": 5}],
        },
        409,
        "WH-1 has 2 of BELT available, 5 needed",
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
        "fractional count",
        "/counts",
        {"location": "WH-1", "reason": "count", "lines": [{"sku": "FLT", "counted": 2.5}]},
        422,
        "lines.0.counted",
    ),
    (
        "count of an unknown location",
        "/counts",
        {"location": "WH-9", "reason": "count", "lines": [{"sku": "FLT", "counted": 2}]},
        422,
        "no stock location 'WH-9'",
    ),
    (
        "too many lines",
        "/receipts",
        {
            "location": "WH-1",
            "reason": "PO",
            "lines": [{"sku": f"S{n}", "quantity": 1} for n in range(501)],
        },
        422,
        "lines: List should have at most 500 items",
    ),
    ("reason too long", "/receipts", {**_receipt(), "reason": "r" * 201}, 422, "reason"),
    ("blank reason", "/receipts", {**_receipt(), "reason": "  "}, 422, "reason"),
    (
        "no reason",
        "/receipts",
        {"location": "WH-1", "lines": [{"sku": "FLT", "quantity": 1}]},
        422,
        "reason: Field required",
    ),
    ("SKU too long", "/receipts", _receipt(sku="S" * 41), 422, "lines.0.sku"),
    (
        "transfer to an unknown location",
        "/transfers",
        {"from": "WH-1", "to": "VAN-X", "reason": "x", "lines": [{"sku": "FLT", "quantity": 1}]},
        422,
        "no stock location 'VAN-X'",
    ),
    (
        "transfer naming its source otherwise than from",
        "/transfers",
        {
            "source": "WH-1",
            "to": "VAN-T-01",
            "reason": "x",
            "lines": [{"sku": "FLT", "quantity": 1}],
        },
        422,
        "from: Field required",
    ),
    (
        "confirm of an unknown van",
        f"/picklists/{DAY}/confirm",
        {"van": "VAN-X"},
        422,
        "no stock location 'VAN-X'",
    ),
    (
        "confirm of a warehouse as a van",
        f"/picklists/{DAY}/confirm",
        {"van": "WH-1"},
        422,
        "WH-1 is not a van",
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


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("lines=1", "application/json", 400),
        ('{"location": "WH-1", "lines": [', "application/json", 400),
        ('[{"sku": "FLT", "quantity": 1}]', "application/json", 400),
        ("location=WH-1&reason=PO", "application/x-www-form-urlencoded", 415),
        ("location,sku\nWH-1,FLT\n", "text/csv", 400),
    ],
    ids=["not JSON", "cut short", "an array", "a form", "CSV"],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    app: Flask,
    stocked: dict[str, int],
    clerk: FlaskClient,
    data: str,
    content_type: str,
    status: int,
) -> None:
    before = ledger_rows(app)
    problem(clerk.post(f"{URL}/receipts", data=data, content_type=content_type), status)
    assert ledger_rows(app) == before


#: Every read (a path), and every write (path and body; a ``str`` body is CSV).
READS = [
    "/locations",
    "/parts",
    "/stock",
    "/movements",
    f"/picklists/{DAY}",
    "/reorder-suggestions",
    "/parts.csv",
    "/stock.csv",
]
WRITES: list[tuple[str, dict[str, Any] | str]] = [
    ("/receipts", _receipt()),
    (
        "/transfers",
        {
            "from": "WH-1",
            "to": "VAN-T-01",
            "reason": "x",
            "lines": [{"sku": "FLT", "quantity": 1}],
        },
    ),
    (
        "/counts",
        {"location": "VAN-T-01", "reason": "count", "lines": [{"sku": "FLT", "counted": 9}]},
    ),
    (f"/picklists/{DAY}/confirm", {"van": "VAN-T-01"}),
    ("/parts.csv", "sku,name,unit,unit_cost\nFLT,Renamed,each,\n"),
    ("/stock.csv", "location,sku,on_hand,reorder_point,reorder_quantity\nVAN-T-01,FLT,9,,\n"),
]


def write(client: FlaskClient, path: str, payload: dict[str, Any] | str) -> TestResponse:
    if isinstance(payload, str):
        return client.post(URL + path, data=payload, content_type="text/csv")
    return client.post(URL + path, json=payload)


def assert_writes_refused(app: Flask, client: FlaskClient, status: int) -> None:
    """Every write answers ``status`` and changes nothing: no ledger row, no part renamed."""
    before = ledger_rows(app)
    for path, payload in WRITES:
        problem(write(client, path, payload), status)
    assert ledger_rows(app) == before
    with sessions(app) as session:
        assert session.scalar(select(Part.name).where(Part.sku == "FLT")) == "Air filter"


def test_a_technician_sees_only_their_own_van_and_writes_nothing(
    app: Flask, stocked: dict[str, int], tina: FlaskClient
) -> None:
    with sessions(app) as session:
        for code in ("VAN-T-01", "WH-1"):
            replenishment.set_reorder_rule(session, code, "BELT", point=1, quantity=2)
        session.commit()
    for path in READS:
        assert tina.get(URL + path).status_code == 200, path
    assert stock_of(tina, "VAN-T-01") == {"FLT": (1, 0), "BELT": (0, 0)}
    everything = body(tina.get(f"{URL}/stock"))["stock"]
    assert {row["location"] for row in everything} == {"VAN-T-01"}
    assert [loc["code"] for loc in body(tina.get(f"{URL}/locations"))["locations"]] == ["VAN-T-01"]
    assert {m["location"] for m in body(tina.get(f"{URL}/movements"))["movements"]} == {"VAN-T-01"}
    suggested = body(tina.get(f"{URL}/reorder-suggestions"))["suggestions"]
    assert [(s["location"], s["sku"]) for s in suggested] == [("VAN-T-01", "BELT")]
    assert tina.get(f"{URL}/stock.csv").get_data(as_text=True).splitlines()[1:] == [
        "VAN-T-01,FLT,1,,",
        "VAN-T-01,BELT,0,1,2",
    ]
    for foreign in ("WH-1", "VAN-T-02"):
        for path in ("/stock", "/movements"):
            found = problem(tina.get(f"{URL}{path}?location={foreign}"), 404)
            assert foreign in found["detail"]
    problem(tina.get(f"{URL}/picklists/{DAY}?van=VAN-T-02"), 404)
    assert_writes_refused(app, tina, 403)


def test_a_technician_without_a_van_sees_no_stock(
    stocked: dict[str, int], add_user: Callable[..., int], login: Callable[[str], FlaskClient]
) -> None:
    add_user("ted", Role.TECHNICIAN)
    ted = login("ted")
    assert body(ted.get(f"{URL}/locations"))["locations"] == []
    assert body(ted.get(f"{URL}/stock"))["stock"] == []
    assert body(ted.get(f"{URL}/movements"))["movements"] == []
    assert body(ted.get(f"{URL}/reorder-suggestions"))["suggestions"] == []
    assert ted.get(f"{URL}/stock.csv").get_data(as_text=True).count("\n") == 1
    assert "no van" in problem(ted.get(f"{URL}/picklists/{DAY}"), 404)["detail"]
    problem(ted.get(f"{URL}/stock?location=VAN-T-01"), 404)


def test_requesters_and_strangers_may_not_look(
    app: Flask,
    stocked: dict[str, int],
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    add_user("rita", Role.REQUESTER)
    requester = login("rita")
    for path in READS:
        problem(requester.get(URL + path), 403)
        problem(app.test_client().get(URL + path), 401)
    assert_writes_refused(app, requester, 403)
    assert_writes_refused(app, app.test_client(), 401)


def test_dispatchers_read_everything_but_write_nothing(
    app: Flask,
    stocked: dict[str, int],
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    add_user("dana", Role.DISPATCHER)
    dispatcher = login("dana")
    for path in READS:
        assert dispatcher.get(URL + path).status_code == 200, path
    assert stock_of(dispatcher, "WH-1") == {"FLT": (5, 0), "BELT": (2, 0)}
    assert stock_of(dispatcher, "VAN-T-02") == {}
    assert_writes_refused(app, dispatcher, 403)


def test_admins_write_and_the_ledger_names_them(
    app: Flask,
    stocked: dict[str, int],
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    ada = add_user("ada", Role.ADMIN)
    admin = login("ada")
    posted = body(admin.post(f"{URL}/receipts", json=_receipt(quantity=2)), 201)["movements"]
    assert [(m["actor"], m["location"], m["on_hand_change"]) for m in posted] == [
        ("ada", "WH-1", 2)
    ]
    with sessions(app) as session:
        newest = session.scalars(select(Movement).order_by(Movement.id.desc())).first()
        assert newest is not None and newest.actor_user_id == ada


def test_locations_and_parts(stocked: dict[str, int], clerk: FlaskClient) -> None:
    found = body(clerk.get(f"{URL}/locations"))["locations"]
    assert [(loc["code"], loc["kind"]) for loc in found] == [
        ("WH-1", "warehouse"),
        ("VAN-T-01", "van"),
        ("VAN-T-02", "van"),
    ]
    assert (found[0]["opens"], found[0]["closes"]) == ("07:00", "17:00")
    parts = body(clerk.get(f"{URL}/parts"))["parts"]
    assert [(p["sku"], p["name"], p["unit"], p["unit_cost"]) for p in parts] == [
        ("BELT", "Belt", "each", None),
        ("FLT", "Air filter", "each", None),
        ("SEAL", "Seal kit", "each", None),
    ]


def test_movements_name_the_job_and_filter(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    """A part used that the van was not known to hold: a flagged adjustment, then the use."""
    with sessions(app) as session:
        job = make_job(session, reference="J-0042")
        consume(session, stocked["T-01"], job.id, [("SEAL", 1)], actor=ledger.Actor(None, "tina"))
        session.commit()

    def listed(query: str) -> list[tuple[str, str, int, str | None, bool]]:
        rows = body(clerk.get(f"{URL}/movements?{query}"))["movements"]
        return [(m["kind"], m["sku"], m["on_hand_change"], m["job"], m["flagged"]) for m in rows]

    used = [("consume", "SEAL", -1, "J-0042", True), ("adjust", "SEAL", 1, "J-0042", True)]
    assert listed("job=J-0042") == used
    assert listed("flagged=true") == used
    assert listed("sku=SEAL&location=VAN-T-01") == used
    assert listed("kind=consume") == used[:1]
    assert listed("job=J-9999") == []
    everything = listed("")
    assert len(everything) == 5 and everything[:2] == used
    assert listed("flagged=false") == everything
    assert listed("since=2000-01-01T00:00:00%2B00:00&until=2999-01-01") == everything
    assert listed("since=2999-01-01") == listed("until=2000-01-01") == []
    row = body(clerk.get(f"{URL}/movements?limit=1"))["movements"][0]
    assert datetime.fromisoformat(row["occurred_at"]).utcoffset() is not None
    assert (row["location"], row["counterpart"], row["actor"]) == ("VAN-T-01", None, "tina")
    for query in (
        "since=2026-11-24T08:00:00",
        "until=tomorrow",
        "flagged=yes",
        "before=x",
        "limit=%C2%B2",
        "limit=501",
    ):
        problem(clerk.get(f"{URL}/movements?{query}"), 400)


def test_stock_and_movements_page_through_every_row(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    """A location code with a slash in it pages like any other."""
    with sessions(app) as session:
        service.upsert_warehouses(
            session,
            [WarehouseData("WH/2", "South", 59.8, 10.8, time(7), time(17), 10, {"BELT": 1})],
        )
        session.commit()
    for sku in ("SEAL", "BELT", "FLT"):
        body(clerk.post(f"{URL}/receipts", json=_receipt(sku=sku, quantity=2)), 201)
    seen, link = [], f"{URL}/stock?limit=2"
    while link:
        page = body(clerk.get(link))
        assert len(page["stock"]) <= 2
        seen += [(row["location"], row["sku"]) for row in page["stock"]]
        link = page["next"]
    assert seen == [
        ("VAN-T-01", "FLT"),
        ("WH-1", "BELT"),
        ("WH-1", "FLT"),
        ("WH-1", "SEAL"),
        ("WH/2", "BELT"),
    ]
    ids, link = [], f"{URL}/movements?limit=3&location=WH-1"
    while link:
        page = body(clerk.get(link))
        ids += [m["id"] for m in page["movements"]]
        assert {m["location"] for m in page["movements"]} == {"WH-1"}
        link = page["next"]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 5
    problem(clerk.get(f"{URL}/movements?kind=teleport"), 400)
    for query in ("limit=0", "after=not-a-cursor", "below_reorder=maybe"):
        problem(clerk.get(f"{URL}/stock?{query}"), 400)


def test_stock_below_the_reorder_point_includes_parts_never_held(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    with sessions(app) as session:
        replenishment.set_reorder_rule(session, "WH-1", "SEAL", point=2, quantity=10)
        replenishment.set_reorder_rule(session, "WH-1", "BELT", point=2, quantity=4)
        replenishment.set_reorder_rule(session, "WH-1", "FLT", point=4, quantity=4)
        session.commit()
    rows = body(clerk.get(f"{URL}/stock?below_reorder=true"))["stock"]
    assert [
        (r["location"], r["sku"], r["on_hand"], r["available"], r["reorder_point"]) for r in rows
    ] == [("WH-1", "BELT", 2, 2, 2), ("WH-1", "SEAL", 0, 0, 2)]
    assert [r["sku"] for r in body(clerk.get(f"{URL}/stock?sku=SEAL"))["stock"]] == ["SEAL"]


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


def test_parts_csv_import_and_export(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    text = "sku,name,unit,unit_cost\nFLT,Air filter 20x20,each,12.50\nCBL,Cable,m,\n"
    assert body(clerk.post(f"{URL}/parts.csv", data=text, content_type="text/csv")) == {"rows": 2}
    exported = clerk.get(f"{URL}/parts.csv")
    assert exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True) == (
        "sku,name,unit,unit_cost\n"
        "FLT,Air filter 20x20,each,12.50\n"
        "BELT,Belt,each,\n"
        "SEAL,Seal kit,each,\n"
        "CBL,Cable,m,\n"
    )
    bad = "sku,name,unit,unit_cost\nNEW,New part,each,1\nFLT,,each,1e2\n"
    refused = problem(clerk.post(f"{URL}/parts.csv", data=bad, content_type="text/csv"), 422)
    assert refused["errors"] == [
        {"row": 3, "column": "name", "message": "must not be empty"},
        {"row": 3, "column": "unit_cost", "message": "'1e2' is not an amount like 12.50"},
    ]
    assert "nothing was imported" in refused["detail"]
    assert "NEW" not in clerk.get(f"{URL}/parts.csv").get_data(as_text=True)
    problem(clerk.post(f"{URL}/parts.csv", json={"sku": "NEW"}), 415)
    problem(
        clerk.post(
            f"{URL}/parts.csv", data="sku,name\n\xff".encode("latin-1"), content_type="text/csv"
        ),
        400,
    )


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
    before = ledger_rows(app)
    short = problem(
        clerk.post(
            f"{URL}/transfers",
            json={
                "from": "WH-1",
                "to": "VAN-T-02",
                "reason": "x",
                "lines": [{"sku": "FLT", "quantity": 4}],
            },
        ),
        409,
    )
    assert (short["available"], short["wanted"]) == (3, 4), "the 2 held for T-01 stay put"
    assert ledger_rows(app) == before
    lines = body(clerk.get(f"{URL}/picklists/{DAY}"))["lines"]
    assert [(l["van"], l["warehouse"], l["sku"], l["quantity"]) for l in lines] == [
        ("VAN-T-01", "WH-1", "FLT", 2)
    ]
    assert body(tina.get(f"{URL}/picklists/{DAY}"))["lines"] == lines
    problem(tina.get(f"{URL}/picklists/{DAY}?van=VAN-T-02"), 404)
    assert clerk.get(f"{URL}/picklists/{DAY}?format=csv").mimetype == "text/csv"
    problem(clerk.get(f"{URL}/picklists/{DAY}?format=pdf"), 400)
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

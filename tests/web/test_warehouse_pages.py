"""The warehouse pages: stock by location, receipts and transfers through forms (refusals
shown by the field, nothing written), the day's pick lists and their confirmation, reorder
suggestions; only warehouse staff and admins open them.

The stock is the inventory API tests' ``stocked``: WH-1 (5 FLT, 2 BELT), VAN-T-01 (1 FLT),
VAN-T-02 (empty).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from dispatch.db import utcnow
from dispatch.enums import Role
from inventory import ledger, replenishment, reservations
from inventory.service import stock_rows
from tests.helpers import make_job
from tests.web.conftest import csrf_token
from tests.web.test_inventory_api import DAY, clerk, ledger_rows, sessions, stocked

__all__ = ["clerk", "stocked"]  # fixtures used from here

PAGES = [
    "/warehouse",
    "/warehouse?location=VAN-T-01",
    "/warehouse/picklists",
    f"/warehouse/picklists/{DAY}",
    "/warehouse/receive",
    "/warehouse/transfer",
    "/warehouse/reorder",
]


def page(response: TestResponse, status: int = 200) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    return text


def on_hand(app: Flask, location: str) -> dict[str, tuple[int, int]]:
    with sessions(app) as session:
        rows = stock_rows(session, location_id=ledger.location(session, location).id)
        return {row.sku: (row.on_hand, row.reserved) for row in rows}


def post_form(client: FlaskClient, path: str, data: dict[str, str]) -> TestResponse:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def test_stock_page_shows_balances_marks_low_stock_and_filters_by_part(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    with sessions(app) as session:
        replenishment.set_reorder_rule(session, "WH-1", "BELT", point=2, quantity=5)
        session.commit()
    first = page(clerk.get("/warehouse"))
    assert "Stock at WH-1" in first, "the first warehouse is shown when none is picked"
    assert '<tr class="low"><td>BELT</td>' in first
    assert "<tr><td>FLT</td><td>Air filter</td>" in first
    assert '<div class="table-scroll">' in first
    assert 'href="/api/v1/inventory/stock.csv"' in first
    filtered = page(clerk.get("/warehouse?location=WH-1&part=filt"))
    assert "FLT" in filtered and "BELT" not in filtered
    van = page(clerk.get("/warehouse?location=VAN-T-01"))
    assert '<td class="number">1</td>' in van and "BELT" not in van
    page(clerk.get("/warehouse?location=WH-9"), 404)
    suggestions = page(clerk.get("/warehouse/reorder"))
    assert "<td>BELT</td>" in suggestions and "<strong>5</strong>" in suggestions


def test_receive_books_a_delivery_and_bad_input_writes_nothing(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    good = {"location": "WH-1", "sku": "SEAL", "quantity": "4", "reason": "PO 17"}
    bad = [
        ({"quantity": "0"}, "0 is out of range (1 to 1000000)"),
        ({"quantity": "-3"}, "-3 is out of range"),
        ({"quantity": "2000000"}, "2000000 is out of range"),
        ({"quantity": "2.5"}, "give a whole number from 1 to 1000000"),
        ({"sku": "NOPE"}, "unknown SKU &#39;NOPE&#39;"),
        ({"sku": "S" * 41}, "a SKU has at most 40 characters"),
        ({"reason": "r" * 201}, "give a reason of 1 to 200 characters"),
        ({"location": "VAN-T-01"}, "VAN-T-01 is a van"),
    ]
    before = ledger_rows(app)
    for change, named in bad:
        refused = page(post_form(clerk, "/warehouse/receive", {**good, **change}), 422)
        assert named in refused, change
        assert 'aria-invalid="true"' in refused
    both = page(
        post_form(clerk, "/warehouse/receive", {**good, "quantity": "0", "reason": ""}), 422
    )
    assert 'id="quantity-error">0 is out of range' in both
    assert 'id="reason-error">give a reason' in both, "every field's problem at once"
    assert ledger_rows(app) == before
    assert "SEAL" not in on_hand(app, "WH-1")
    done = post_form(clerk, "/warehouse/receive", good)
    assert done.status_code == 302 and done.location == "/warehouse/receive?location=WH-1"
    assert "Received 4 × SEAL into WH-1." in page(clerk.get(done.location))
    assert on_hand(app, "WH-1")["SEAL"] == (4, 0)


def test_transfer_of_more_than_is_available_is_refused_with_the_reason(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    move = {"source": "WH-1", "destination": "VAN-T-02", "sku": "BELT", "reason": "top-up"}
    before = ledger_rows(app)
    short = page(post_form(clerk, "/warehouse/transfer", {**move, "quantity": "3"}), 422)
    assert "WH-1 has 2 of BELT available, 3 needed" in short
    same = {**move, "destination": "WH-1", "quantity": "1"}
    assert "the same location as the source" in page(
        post_form(clerk, "/warehouse/transfer", same), 422
    )
    unknown = {**move, "destination": "VAN-X", "quantity": "1"}
    assert 'id="destination-error">no stock location &#39;VAN-X&#39;' in page(
        post_form(clerk, "/warehouse/transfer", unknown), 422
    )
    assert ledger_rows(app) == before
    done = post_form(clerk, "/warehouse/transfer", {**move, "quantity": "2"})
    assert done.status_code == 302
    assert "Moved 2 × BELT from WH-1 to VAN-T-02." in page(clerk.get(done.location))
    assert on_hand(app, "VAN-T-02") == {"BELT": (2, 0)}
    assert "BELT" not in on_hand(app, "WH-1"), "none left there"


def test_pick_list_page_lists_the_picks_and_confirm_records_them(
    app: Flask, stocked: dict[str, int], clerk: FlaskClient
) -> None:
    with sessions(app) as session:
        job = make_job(session, reference="J-0042")
        reservations.reserve_day(
            session,
            DAY,
            [
                reservations.VanRoute(
                    stocked["T-01"],
                    [
                        reservations.Pickup("WH-1", {"FLT": 2}),
                        reservations.Visit(job.id, {"FLT": 3}),
                    ],
                )
            ],
            plan_id=None,
            actor=ledger.SYSTEM,
            reason="plan",
        )
        session.commit()
    listed = page(clerk.get(f"/warehouse/picklists/{DAY}"))
    assert "VAN-T-01 · Technician T-01 (T-01)" in listed
    assert "Pick at WH-1 · North" in listed
    assert '<td>FLT</td><td>Air filter</td><td class="number"><strong>2</strong>' in listed
    assert "J-0042" in listed and '<section class="picklist"' in listed
    confirm = f"/warehouse/picklists/{DAY}/confirm"
    token = csrf_token(clerk, f"/warehouse/picklists/{DAY}")
    before = ledger_rows(app)
    refused = clerk.post(confirm, data={"van": "WH-1", "csrf_token": token})
    assert "WH-1: van: WH-1 is not a van" in page(refused, 422)
    assert ledger_rows(app) == before
    done = clerk.post(confirm, data={"van": "VAN-T-01", "csrf_token": token})
    assert done.status_code == 302 and done.location == f"/warehouse/picklists/{DAY}"
    after = page(clerk.get(done.location))
    assert "VAN-T-01: 2 units loaded" in after and "Nothing to pick for this day" in after
    assert on_hand(app, "VAN-T-01") == {"FLT": (3, 3)}
    assert on_hand(app, "WH-1")["FLT"] == (3, 0)
    tomorrow = utcnow().date() + timedelta(days=1)  # no service day set up: UTC
    assert clerk.get("/warehouse/picklists").location == f"/warehouse/picklists/{tomorrow}"


def test_only_warehouse_staff_and_admins_open_the_pages(
    app: Flask,
    stocked: dict[str, int],
    add_user: Callable[..., int],
    login: Callable[[str], FlaskClient],
) -> None:
    for username, role in (("dana", Role.DISPATCHER), ("rita", Role.REQUESTER)):
        add_user(username, role)
        client = login(username)
        for path in PAGES:
            assert client.get(path).status_code == 403, (username, path)
        token = csrf_token(client, "/password")
        refused = client.post(
            "/warehouse/receive",
            data={"location": "WH-1", "sku": "FLT", "quantity": "1", "reason": "x"}
            | {"csrf_token": token},
        )
        assert refused.status_code == 403
    add_user("ada", Role.ADMIN)
    admin = login("ada")
    for path in PAGES:
        assert admin.get(path).status_code in (200, 302), path
    assert app.test_client().get("/warehouse").location.startswith("/login")

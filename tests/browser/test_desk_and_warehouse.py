"""The request desk and the warehouse pages in a real browser, on the demo's data: a call
at a place with an open request is first shown the likely duplicate; a pick list prints
without the site's navigation."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from dispatch.models import ServiceRequest
from mobile_api.http import SESSIONS_KEY
from tests.browser.conftest import Visit, open_board, sign_in
from web.cli import DEMO_PASSWORD


def test_a_call_at_a_place_with_an_open_request_is_shown_the_duplicate_first(
    app: Flask, demo_day: date, visit: Callable[..., Visit]
) -> None:
    with app.extensions[SESSIONS_KEY]() as session:
        earlier = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)).first()
        assert earlier is not None
        reference, site = earlier.reference, earlier.site
        latitude, longitude = site.latitude, site.longitude
    found = visit()
    page = open_board(found, "dispatcher", demo_day, DEMO_PASSWORD)
    page.click("header nav a:text('Requests')")
    page.click("main a[href='/desk/new']")
    page.fill("#requester_name", "Eva Berg")
    page.fill("#requester_phone", "+46 70 123 45 67")
    page.fill("#latitude", str(latitude))
    page.fill("#longitude", str(longitude))
    page.select_option("#catalog_code", index=1)
    page.fill("#description", "Radiator cold in the hall")
    page.click("main button[type=submit]")

    duplicates = page.locator(".duplicates")
    expect(duplicates).to_contain_text(reference)
    found.screenshot("desk-duplicate")
    page.click("main button:text('Record it anyway')")

    page.wait_for_url(re.compile(r"/requests/[^/]+$"))
    created = page.url.rsplit("/", 1)[1]
    assert created != reference
    expect(page.locator(".history li").first).to_be_visible()
    found.screenshot("request")
    page.goto(f"{found.base}/desk?q={created}")
    expect(page.locator(f"main a:text('{created}')")).to_be_visible()
    expect(page.locator("main .countdown").first).to_have_text(re.compile(r"left|overdue"))


def test_the_warehouse_prints_a_pick_list_without_the_sites_navigation(
    demo_day: date, visit: Callable[..., Visit]
) -> None:
    found = visit()
    page = found.page
    sign_in(found, "warehouse", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/warehouse$"))
    expect(page.locator("main table tbody tr").first).to_be_visible()
    page.goto(f"{found.base}/warehouse/picklists/{demo_day.isoformat()}")
    expect(page.locator(".picklist").first).to_be_visible()
    found.screenshot("picklist")

    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator(".picklist form").first).to_be_hidden()
    expect(page.locator(".picklist").first).to_be_visible()

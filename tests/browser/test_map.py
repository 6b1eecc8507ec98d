"""The day on a map in a real browser: routes, jobs and warehouses, no other host asked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import Visit, open_board, sign_in


def test_the_map_draws_every_route_with_no_basemap(
    app: Flask, planned_day: date, visit: Callable[..., Visit]
) -> None:
    found = visit()
    page = found.page
    sign_in(found, "dana")
    page.goto(f"{found.base}/map/{planned_day.isoformat()}")
    legend = page.locator("#legend li")
    legend.first.wait_for()
    routes = page.locator("path.leaflet-interactive:not(.job-marker)")
    expect(routes).to_have_count(legend.count())
    assert page.locator("path.job-marker").count() > legend.count()
    expect(page.locator(".warehouse-marker").first).to_be_visible()
    expect(page.locator(".leaflet-tile")).to_have_count(0)  # no basemap configured
    expect(page.locator("#live")).to_have_text("live")
    found.screenshot("map")


def test_a_proposal_opens_on_the_map_before_it_is_accepted(
    planned_day: date, visit: Callable[..., Visit]
) -> None:
    found = visit()
    page = found.page
    open_board(found, "dana", planned_day)
    page.fill("#seconds", "1")
    page.click("#optimize")
    page.click("#proposal a:text('See it on the map')")

    page.wait_for_url(re.compile(rf"/map/{planned_day.isoformat()}\?plan=\d+$"))
    expect(page.locator("h1")).to_contain_text("Proposal")
    legend = page.locator("#legend li")
    legend.first.wait_for()
    expect(page.locator("path.leaflet-interactive:not(.job-marker)")).to_have_count(legend.count())

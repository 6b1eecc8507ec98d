"""The KPI page in a real browser: totals and charts over a range, per technician."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import Visit, sign_in


def test_the_kpi_page_charts_a_range_and_names_a_bad_one(
    app: Flask, planned_day: date, visit: Callable[..., Visit]
) -> None:
    found = visit()
    page = found.page
    sign_in(found, "dana")
    page.click("header nav a:text('KPIs')")
    expect(page.locator("#totals .figure")).to_have_count(6)
    travel = page.locator(".figure:has-text('travel per job') strong")
    expect(travel).to_have_text(re.compile(r"^\d+(\.\d)? min$"))  # the published plan's
    for chart in ("sla-chart", "travel-chart", "technician-chart", "backlog-chart"):
        assert page.locator(f"#{chart}").evaluate_handle("c => c.width").json_value() > 0
    found.screenshot("kpis")

    page.select_option("select[name=technician]", index=1)
    page.click("#kpi-range button")
    expect(page.locator("#kpi-status")).to_contain_text("T-01")

    page.fill("input[name=from]", planned_day.replace(year=planned_day.year + 1).isoformat())
    page.click("#kpi-range button")
    expect(page.locator("#kpi-status")).to_contain_text("the query is not valid")

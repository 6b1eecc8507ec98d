"""What the README's first command gives a new user: ``fieldops demo`` plans the demo day,
and a dispatcher signing in lands on that day's board."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import Visit, open_board
from tests.browser.test_board import routed_jobs
from web.cli import DEMO_PASSWORD


@pytest.mark.demo_plan_seconds(5)
def test_the_demo_lands_the_dispatcher_on_the_planned_days_board(
    app: Flask, demo_day: date, visit: Callable[..., Visit]
) -> None:
    found = visit()
    page = open_board(found, "dispatcher", demo_day, DEMO_PASSWORD)
    jobs = page.locator(".vis-item.job")
    jobs.first.wait_for()
    expect(page.locator("#live")).to_have_text("live")
    assert jobs.count() == routed_jobs(app, demo_day) > 0
    found.screenshot("demo-board")

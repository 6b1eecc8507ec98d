"""What the README's first command gives a new user: ``fieldops demo`` plans the demo day,
and a dispatcher signing in lands on that day's board."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import Visit
from tests.browser.test_board import routed_jobs
from web.cli import DEMO_PASSWORD, cli

DEMO_DATE = date.fromisoformat(
    json.loads((Path(__file__).parents[2] / "dispatch" / "data" / "demo-day.json").read_text())[
        "date"
    ]
)


def test_the_demo_lands_the_dispatcher_on_the_planned_days_board(
    app: Flask, database_url: str, visit: Callable[..., Visit]
) -> None:
    demo = CliRunner().invoke(
        cli,
        ["demo", "--no-serve", "--yes", "--plan-time-limit", "5"],
        env={"DATABASE_URL": database_url},
    )
    assert demo.exit_code == 0, demo.output

    found = visit()
    page = found.page
    page.goto(found.base + "/login")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")

    page.wait_for_url(re.compile(rf"/board/{DEMO_DATE.isoformat()}$"))
    jobs = page.locator(".vis-item.job")
    jobs.first.wait_for()
    expect(page.locator("#live")).to_have_text("live")
    assert jobs.count() == routed_jobs(app, DEMO_DATE) > 0
    found.screenshot("demo-board")

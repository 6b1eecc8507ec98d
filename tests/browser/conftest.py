"""Browser tests: the app served on a loopback port, driven by Debian's Chromium headless.

Playwright for Python drives ``/usr/bin/chromium`` (no browser download). Without it the
tests skip, unless ``FIELDOPS_REQUIRE_BROWSER=1`` (set by CI) makes that a failure. They
run on the embedded default, SQLite, with the local worker executing plan runs, as
``fieldops demo`` does; the pages are the same on PostgreSQL. Every request the browser
makes is recorded, and a test fails if one went to another host, or if a page reported
an error (an uncaught exception, a refusal by the Content-Security-Policy). Screenshots go to
``docs/screenshots/``, where the README shows them.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from dispatch.enums import Role
from dispatch.planning.jobqueue import run_local_worker
from mobile_api.http import SESSIONS_KEY
from tests.mobile_api.conftest import day
from tests.web.conftest import PASSWORD, add_user, app, make_app, nominatim
from web.cli import cli

__all__ = ["add_user", "app", "day", "make_app", "nominatim"]  # fixtures used from here

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("FIELDOPS_REQUIRE_BROWSER") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VERDICT_STATUS = re.compile(r"Failed to load resource: .*status of (409|422)\b")
DEMO_DATE = date.fromisoformat(
    json.loads((Path(__file__).parents[2] / "dispatch" / "data" / "demo-day.json").read_text())[
        "date"
    ]
)
#: Milliseconds the browser waits for what a test expects to appear.
WAIT_MS = 20_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, shared by the session's tests."""
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: install Debian's chromium package"
        if REQUIRE_BROWSER:
            pytest.fail(problem + " (FIELDOPS_REQUIRE_BROWSER=1)")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def served(app: Flask, database_url: str) -> Iterator[str]:
    """The app on a free loopback port (a thread per connection), with the local worker
    executing plan runs; its base URL."""
    if not database_url.startswith("sqlite"):
        pytest.skip("browser tests run on the embedded default, SQLite")
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    worker = threading.Thread(
        target=run_local_worker, args=(app.extensions[SESSIONS_KEY], stop), daemon=True
    )
    worker.start()
    yield f"http://127.0.0.1:{server.server_port}"
    stop.set()
    worker.join(30)
    server.shutdown()


@dataclass
class Visit:
    """A browser page on the served app, and every URL it asked for."""

    page: Page
    base: str
    requested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught script errors, CSP refusals

    def console(self, kind: str, text: str) -> None:
        """Keep the console's errors, but not the server's verdicts on refused edits (409,
        422), which the browser logs as failed loads and the page shows as answers."""
        if kind == "error" and not VERDICT_STATUS.search(text):
            self.errors.append(text)

    def foreign_requests(self) -> list[str]:
        own = urlsplit(self.base).netloc
        return [url for url in self.requested if urlsplit(url).netloc not in ("", own)]

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def visit(browser: Browser, served: str) -> Iterator[Callable[..., Visit]]:
    """Open a new browser context (1280x800 unless told) on the served app; after the
    test, no page may have asked another host for anything."""
    visits: list[Visit] = []
    contexts: list[BrowserContext] = []

    def open_page(width: int = 1280, height: int = 800) -> Visit:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        found = Visit(page, served)
        page.on("request", lambda request: found.requested.append(request.url))
        page.on("pageerror", lambda error: found.errors.append(str(error)))
        page.on("console", lambda message: found.console(message.type, message.text))
        visits.append(found)
        return found

    yield open_page
    for context in contexts:
        context.close()
    foreign = [url for found in visits for url in found.foreign_requests()]
    assert not foreign, f"pages asked other hosts: {foreign}"
    errors = [error for found in visits for error in found.errors]
    assert not errors, f"the pages reported errors: {errors}"


def sign_in(found: Visit, username: str, password: str = PASSWORD) -> None:
    page = found.page
    page.goto(found.base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")


def open_board(found: Visit, username: str, day: date, password: str = PASSWORD) -> Page:
    """Sign in as a dispatcher, who lands on ``day``'s board; the page."""
    sign_in(found, username, password)
    found.page.wait_for_url(re.compile(rf"/board/{day.isoformat()}$"))
    return found.page


@pytest.fixture
def planned_day(day: date, add_user: Callable[..., int]) -> date:
    """oslo-5x30 imported, planned and published; a dispatcher ``dana``."""
    add_user("dana", Role.DISPATCHER)
    return day


@pytest.fixture
def demo_day(app: Flask, database_url: str, request: pytest.FixtureRequest) -> date:
    """What ``fieldops demo`` leaves in the app's database: the demo day planned (for the
    seconds a ``demo_plan_seconds`` mark gives, else 1) and published, the demo's logins."""
    marked = request.node.get_closest_marker("demo_plan_seconds")
    seconds = marked.args[0] if marked else 1
    demo = CliRunner().invoke(
        cli,
        ["demo", "--no-serve", "--yes", "--plan-time-limit", str(seconds)],
        env={"DATABASE_URL": database_url},
    )
    assert demo.exit_code == 0, demo.output
    return DEMO_DATE

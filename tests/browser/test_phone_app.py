"""The technician's phone app (``/tech/``) in a real browser at phone size: sign in and see
the day's route; work a job with the network off (statuses, a part from the van, a note, a
signature), still there after a reload with no network; sent once when the network
returns; a re-plan published while the app is open shows up in it with a notice."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, Route, expect
from sqlalchemy import func, select

from dispatch.accounts import link_technician
from dispatch.enums import JobStatus, Role
from dispatch.field_models import (
    AttachmentKind,
    JobAttachment,
    JobNote,
    PartUsage,
    ReportOutcome,
    StatusReport,
)
from dispatch.models import Job, Technician
from dispatch.planning.edits import unassign
from dispatch.planning.proposals import published_version
from dispatch.planning.publish import publish
from inventory.models import Movement, MovementKind
from inventory.service import van_stock
from mobile_api.http import SESSIONS_KEY
from tests.browser.conftest import WAIT_MS, Visit
from tests.dispatch.test_planning_problem import import_day, load_day
from tests.mobile_api.conftest import API, bearer, busiest
from tests.web.conftest import PASSWORD
from tests.web.test_plans_api import propose

PHONE = (390, 844)
NOTE = "Replaced the valve; tested for leaks.\nCustomer present."
#: How many of a part the technician records as used (every oslo-5x30 van holds this
#: many of some part).
QUANTITY = 2
#: True once the app's service worker is active (it has cached the shell), false after
#: the wait for what a test expects.
SHELL_CACHED = f"""Promise.race([
    navigator.serviceWorker.ready.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), {WAIT_MS})),
])"""


@pytest.fixture
def today(app: Flask) -> date:
    """oslo-5x30 re-dated to today in its service area and a plan published: the day the
    app shows a technician who opens it."""
    document = load_day("oslo-5x30")
    day = datetime.now(ZoneInfo(document["timezone"])).date()
    redated = json.loads(json.dumps(document).replace(document["date"], day.isoformat()))
    with app.extensions[SESSIONS_KEY]() as session:
        import_day(session, redated)
    plan_id = propose(app, day)
    with app.extensions[SESSIONS_KEY]() as session:
        publish(session, plan_id, user_id=None)
        session.commit()
    return day


def test_a_job_worked_offline_reaches_the_server_once_and_a_replan_arrives_live(
    app: Flask, today: date, visit: Callable[..., Visit], add_user: Callable[..., int]
) -> None:
    code = busiest(app, today)
    sku, stock_before = van_part(app, code)
    found = visit(*PHONE)
    page = found.page

    # Sign in: the day's route, one stop per job the technician has.
    stops = open_app(app, found, today, add_user)
    expect(page.locator("#sync-state")).to_contain_text("online", timeout=WAIT_MS)
    assert page.evaluate(SHELL_CACHED), "no service worker took charge of /tech/"
    found.screenshot("phone-route")
    job, other = (stops.nth(index).get_attribute("data-job") for index in (0, 1))
    assert job and other

    # Offline: the job's lifecycle, a part, a note and a signature, all queued.
    page.context.set_offline(True)
    expect(page.locator("#sync-state")).to_contain_text("offline")
    page.click(f"li.stop.job[data-job='{job}']")
    card = page.locator(f"section#job[data-job='{job}']")
    expect(card).to_be_visible()
    expect(card.locator("button[data-status=completed]")).to_be_disabled()  # not under way
    waiting = page.locator("#waiting-count")
    set_status(page, "en_route")
    expect(waiting).to_have_text("1")
    set_status(page, "on_site")
    expect(waiting).to_have_text("2")
    page.select_option("select#part-sku", sku)
    page.fill("input#part-quantity", str(QUANTITY))
    page.click("button#add-part")
    expect(waiting).to_have_text("3")
    page.fill("textarea#note", NOTE)
    page.click("button#save-note")
    expect(waiting).to_have_text("4")
    expect(card).to_contain_text(NOTE.splitlines()[0])  # shown at once, from the queue
    sign(page)
    page.click("button#save-signature")
    expect(waiting).to_have_text("5")
    set_status(page, "completed")
    changes = 6  # three statuses, the part, the note, the signature
    expect(waiting).to_have_text(str(changes))
    page.evaluate("window.scrollTo(0, 0)")  # the job's heading, under the header
    found.screenshot("phone-job")
    page.click("button#show-outbox")
    pending = page.locator("section#outbox li.pending")
    expect(pending).to_have_count(changes)
    expect(waiting).to_have_text(str(changes))
    found.screenshot("phone-outbox")

    # Reloaded with no network: the service worker opens the app, the queue is still there.
    page.reload()
    expect(page.locator("#sync-state")).to_contain_text("offline")
    page.click("button#show-route")
    expect(stops).to_have_count(routed_jobs(app, today, code))
    page.click("button#show-outbox")
    expect(pending).to_have_count(changes)
    expect(waiting).to_have_text(str(changes))

    # Online again: the outbox empties, everything applied exactly once.
    page.context.set_offline(False)
    expect(pending).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("section#outbox li.refused")).to_have_count(0)
    expect(waiting).to_have_text("0")
    expect(page.locator("#sync-state")).to_contain_text("online", timeout=WAIT_MS)
    with app.extensions[SESSIONS_KEY]() as session:
        job_id, status = session.execute(
            select(Job.id, Job.status).where(Job.reference == job)
        ).one()
        assert status == JobStatus.COMPLETED
        reports = session.execute(
            select(StatusReport.status, StatusReport.outcome).where(StatusReport.job_id == job_id)
        ).all()
        assert sorted(reports) == sorted(
            (value, ReportOutcome.APPLIED)
            for value in (JobStatus.EN_ROUTE, JobStatus.ON_SITE, JobStatus.COMPLETED)
        )
        notes = session.scalars(select(JobNote.body).where(JobNote.job_id == job_id)).all()
        assert notes == [NOTE]
        signatures = session.scalars(
            select(JobAttachment.kind).where(JobAttachment.job_id == job_id)
        ).all()
        assert signatures == [AttachmentKind.SIGNATURE]
        used = session.execute(
            select(PartUsage.sku, PartUsage.quantity).where(PartUsage.job_id == job_id)
        ).all()
        assert used == [(sku, QUANTITY)]
        consumed = session.scalar(
            select(func.count())
            .select_from(Movement)
            .where(Movement.job_id == job_id, Movement.kind == MovementKind.CONSUME)
        )
        assert consumed == 1
    assert van_part(app, code, sku)[1] == stock_before - QUANTITY

    # A dispatcher takes another of her jobs off: the route changes, a notice says so.
    page.click("button#show-route")
    with app.extensions[SESSIONS_KEY]() as session:
        version = published_version(session, today)
        unassign(session, today, other, expected_version=version, user_id=None)
        session.commit()
    expect(page.locator(f"li.stop.job[data-job='{other}']")).to_have_count(0, timeout=WAIT_MS)
    expected = route_jobs(app, today)
    expect(stops).to_have_count(len(expected))
    assert [stop.get_attribute("data-job") for stop in stops.all()] == expected
    expect(page.locator("ul#notices li", has_text=other).first).to_be_visible(timeout=WAIT_MS)


def test_a_busy_server_keeps_a_change_waiting_and_a_refusal_says_why(
    app: Flask, today: date, visit: Callable[..., Visit], add_user: Callable[..., int]
) -> None:
    found = visit(*PHONE)
    page = found.page
    job = open_app(app, found, today, add_user).first.get_attribute("data-job")
    busy = []

    def answer_busy_once(route: Route) -> None:
        busy.append(route.request.url)
        route.fulfill(status=503, content_type="application/problem+json", body="{}")
        page.unroute("**/jobs/*/status", answer_busy_once)

    page.route("**/jobs/*/status", answer_busy_once)
    page.click(f"li.stop.job[data-job='{job}']")
    set_status(page, "en_route")
    expect(page.locator("#waiting-count")).to_have_text("0", timeout=WAIT_MS)  # sent again
    assert len(busy) == 1
    page.click("button#show-outbox")
    expect(page.locator("section#outbox li.refused")).to_have_count(0)
    # The browser logs the 503 it was answered; the app kept the change and sent it again.
    assert all("503" in error for error in found.errors), found.errors
    found.errors.clear()
    with app.extensions[SESSIONS_KEY]() as session:
        assert session.scalar(select(Job.status).where(Job.reference == job)) == (
            JobStatus.EN_ROUTE
        )

    # More of a part than the van could ever hold: refused, with the server's reason.
    page.click("button#show-route")
    page.click(f"li.stop.job[data-job='{job}']")
    page.fill("input#part-quantity", "20000")
    page.click("button#add-part")
    page.click("button#show-outbox")
    refused = page.locator("section#outbox li.refused")
    expect(refused).to_have_count(1, timeout=WAIT_MS)
    expect(refused.locator(".reason")).not_to_be_empty()
    refused.locator("button.discard").click()
    expect(refused).to_have_count(0)


def open_app(app: Flask, found: Visit, day: date, add_user: Callable[..., int]) -> Locator:
    """Tina, linked to the day's busiest technician, signs in to the app: her route's
    job stops, one per job she has."""
    code = busiest(app, day)
    add_user("tina", Role.TECHNICIAN)
    with app.extensions[SESSIONS_KEY].begin() as session:
        link_technician(session, "tina", code)
    page = found.page
    page.goto(found.base + "/tech/")
    page.fill("form#login-form input[name=username]", "tina")
    page.fill("form#login-form input[name=password]", PASSWORD)
    page.click("form#login-form button[type=submit]")
    stops = page.locator("section#route li.stop.job")
    expect(stops).to_have_count(routed_jobs(app, day, code), timeout=WAIT_MS)
    return stops


def set_status(page: Page, status: str) -> None:
    """Tap a status button; the job shows the new status at once (queued, offline)."""
    button = page.locator(f"section#job button[data-status={status}]")
    expect(button).to_be_enabled()
    button.click()
    shown = re.compile(status.replace("_", "[ _]"), re.IGNORECASE)
    expect(page.locator("section#job .status")).to_have_text(shown)


def sign(page: Page) -> None:
    """Two strokes across the signature pad with the mouse, as a finger would."""
    pad = page.locator("canvas#signature")
    pad.hover()  # scrolled into view
    box = pad.bounding_box()
    assert box is not None
    for row in (0.35, 0.65):
        y = box["y"] + box["height"] * row
        page.mouse.move(box["x"] + box["width"] * 0.1, y)
        page.mouse.down()
        for step in range(1, 11):
            x = box["x"] + box["width"] * (0.1 + 0.08 * step)
            page.mouse.move(x, y + (8 if step % 2 else -8))
        page.mouse.up()


def routed_jobs(app: Flask, day: date, code: str) -> int:
    """How many of the day's jobs the technician ``code`` has."""
    with app.extensions[SESSIONS_KEY]() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Job)
                .join(Technician, Job.technician_id == Technician.id)
                .where(Job.service_date == day, Technician.code == code)
            )
            or 0
        )


def van_part(app: Flask, code: str, sku: str | None = None) -> tuple[str, int]:
    """The SKU (the one the van holds most of, unless named) and how many the van of
    technician ``code`` has on hand."""
    with app.extensions[SESSIONS_KEY]() as session:
        technician_id = session.scalars(select(Technician.id).where(Technician.code == code)).one()
        found = van_stock(session, technician_id)
    assert found is not None, f"{code} has no van"
    on_hand = {line.sku: line.on_hand for line in found[1]}
    if sku is None:
        sku = max(sorted(on_hand), key=lambda each: on_hand[each])
        assert on_hand[sku] >= QUANTITY, on_hand
    return sku, on_hand.get(sku, 0)


def route_jobs(app: Flask, day: date) -> list[str]:
    """Tina's jobs in route order, as the technician API answers now."""
    client = app.test_client()
    route = client.get(
        f"{API}/me/route?date={day.isoformat()}", headers=bearer(client, "tina")
    ).get_json()
    return [stop["job"]["reference"] for stop in route["stops"] if stop["type"] == "job"]

"""The dispatcher's board in a real browser: the day at a glance, optimize and accept,
drag a job and see the server's verdict, a technician's status change arriving live."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import func, select

from dispatch.accounts import link_technician
from dispatch.enums import Role
from dispatch.models import Job
from mobile_api.http import SESSIONS_KEY
from tests.browser.conftest import Visit, open_board
from tests.web.conftest import PASSWORD


def routed_jobs(app: Flask, day: date) -> int:
    with app.extensions[SESSIONS_KEY]() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.service_date == day, Job.technician_id.is_not(None))
            )
            or 0
        )


def test_the_dispatcher_steers_the_day_on_the_board(
    app: Flask,
    planned_day: date,
    visit: Callable[..., Visit],
    add_user: Callable[..., int],
) -> None:
    found = visit()
    page = found.page
    open_board(found, "dana", planned_day)
    jobs = page.locator(".vis-item.job")
    jobs.first.wait_for()
    assert jobs.count() == routed_jobs(app, planned_day)
    expect(page.locator("#live")).to_have_text("live")
    found.screenshot("board")

    # Optimize: progress, then the proposal with what would move; accept it.
    page.fill("#seconds", "2")
    page.click("#optimize")
    page.locator("#proposal h2").wait_for()
    assert "Proposal" in page.inner_text("#proposal h2")
    assert "Score" in page.inner_text("#proposal .deltas")
    found.screenshot("proposal")
    page.click("#proposal button:text('Accept')")
    expect(page.locator("#verdict")).to_contain_text("is the day's plan")

    # Drag a job onto another technician's row: the server answers, the board says so.
    page.wait_for_timeout(1500)  # the accepted plan's events come back on the stream
    jobs.first.click()  # the timeline drags a selected item
    item = jobs.first.bounding_box()
    rows = page.locator(".vis-labelset .vis-label")
    target = rows.nth(rows.count() - 1).bounding_box()
    assert item is not None and target is not None
    x, y = item["x"] + item["width"] / 2, item["y"] + item["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.wait_for_timeout(100)
    for step in range(1, 21):  # slowly, as a hand does: the timeline reads a pan gesture
        page.mouse.move(x + step, y + (target["y"] + target["height"] / 2 - y) * step / 20)
        page.wait_for_timeout(20)
    page.mouse.up()
    expect(page.locator("#verdict")).to_have_text(re.compile(r"^(Accepted: J-|Refused: )"))
    found.screenshot("board-verdict")

    # A technician sets off: the board shows it without a reload.
    reference = jobs.first.inner_text().split()[0]
    with app.extensions[SESSIONS_KEY].begin() as session:
        job = session.scalars(select(Job).where(Job.reference == reference)).one()
        code = job.technician.code  # type: ignore[union-attr]
    add_user("tom", Role.TECHNICIAN)
    with app.extensions[SESSIONS_KEY].begin() as session:
        link_technician(session, "tom", code)
    phone = app.test_client()
    tokens = phone.post(
        "/api/mobile/v1/auth/login",
        json={"username": "tom", "password": PASSWORD, "device": "tom's phone"},
    ).get_json()
    sent = phone.post(
        f"/api/mobile/v1/jobs/{reference}/status",
        json={"id": str(uuid.uuid4()), "status": "en_route", "device_time": _now()},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert sent.status_code == 200, sent.get_json()
    page.locator(f".vis-item.job.status-en_route:has-text('{reference}')").wait_for()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def test_two_dispatchers_see_each_others_edits(
    planned_day: date, visit: Callable[..., Visit], add_user: Callable[..., int]
) -> None:
    add_user("dora", Role.DISPATCHER)
    boards = []
    for username in ("dana", "dora"):
        found = visit()
        open_board(found, username, planned_day)
        expect(found.page.locator("#live")).to_have_text("live")
        boards.append(found.page)
    dana, dora = boards
    job = dana.locator(".vis-item.job:not(.pinned)").first
    reference = job.inner_text().split()[0]
    expect(dora.locator(f".vis-item.job.pinned:has-text('{reference}')")).to_have_count(0)

    job.click()
    dana.click("#details button:text('Pin here')")
    expect(dana.locator("#verdict")).to_contain_text(f"Accepted: {reference} is pinned")

    expect(dora.locator(f".vis-item.job.pinned:has-text('{reference}')")).to_have_count(1)


def test_a_job_is_pinned_with_the_keyboard_alone(
    planned_day: date, visit: Callable[..., Visit]
) -> None:
    found = visit()
    page = found.page
    open_board(found, "dana", planned_day)
    page.locator(".vis-item.job").first.wait_for()

    page.focus("#job-picker")
    page.keyboard.press("ArrowDown")  # the first routed job
    chosen = page.input_value("#job-picker").removeprefix("job-")
    expect(page.locator("#details h3")).to_contain_text(chosen)
    for _ in range(3):  # to "Move to", "Move (best place)", then "Pin here"
        page.keyboard.press("Tab")
    expect(page.locator("#details button:focus")).to_have_text("Pin here")
    page.keyboard.press("Enter")

    expect(page.locator("#verdict")).to_contain_text(f"Accepted: {chosen} is pinned")
    expect(page.locator(f".vis-item.job.pinned:has-text('{chosen}')")).to_have_count(1)

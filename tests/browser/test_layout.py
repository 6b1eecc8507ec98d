"""Every page at a phone's width and by keyboard alone, on the demo's data signed in as
the admin (who may open them all): nothing wider than the screen, every control reachable
with Tab."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Flask
from sqlalchemy import select

from dispatch.models import ServiceRequest, User
from mobile_api.http import SESSIONS_KEY
from tests.browser.conftest import DEMO_DATE, Visit, open_board
from web.cli import DEMO_PASSWORD

DAY = DEMO_DATE.isoformat()
PAGES = [
    f"/board/{DAY}",
    f"/map/{DAY}",
    f"/day/{DAY}",
    "/kpis",
    "/desk",
    "/desk/new",
    "/requests/new",
    "/requests/{request}",
    "/warehouse",
    f"/warehouse/picklists/{DAY}",
    "/warehouse/receive",
    "/warehouse/transfer",
    "/warehouse/reorder",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{user}",
    "/admin/technicians",
    "/admin/technicians/T-01",
    "/admin/catalog",
    "/account/password",
]
#: Whether Tab reached a control: a radio group is one stop, its buttons chosen with arrows.
REACHED = """e => e.type === 'radio'
    ? e.form.querySelector(`input[name="${e.name}"].tabbed`) !== null
    : e.classList.contains('tabbed')"""
#: What takes the keyboard's focus: links, buttons and fields a person can see.
CONTROLS = "a[href]:visible, button:visible, input:visible, select:visible, textarea:visible"


def test_every_page_reads_at_phone_width_and_takes_the_keyboard(
    app: Flask, demo_day: date, visit: Callable[..., Visit]
) -> None:
    phone, desk = visit(width=390, height=844), visit()
    for found in (phone, desk):
        open_board(found, "admin", demo_day, DEMO_PASSWORD)

    with app.extensions[SESSIONS_KEY]() as session:
        request = session.scalars(select(ServiceRequest.reference)).first()
        user = session.scalars(select(User.id).where(User.username == "technician")).one()
    too_wide, unreachable = {}, {}
    for path in (page.format(request=request, user=user) for page in PAGES):
        phone.page.goto(phone.base + path)
        phone.page.wait_for_timeout(300)  # the page's script draws what it loaded
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = phone.page.evaluate(
                "[...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right > 391)"
                ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
            )
        missed = _not_reached_by_tab(desk, path)
        if missed:
            unreachable[path] = missed

    assert not too_wide, f"pages wider than a 390 px screen: {too_wide}"
    assert not unreachable, f"controls Tab never reaches: {unreachable}"


def _not_reached_by_tab(found: Visit, path: str) -> list[str]:
    """Tab through the page from the top; the controls that never took the focus."""
    page = found.page
    page.goto(found.base + path)
    page.wait_for_timeout(300)
    controls = page.locator(CONTROLS)
    for _ in range(3 * controls.count() + 10):  # a date field takes three stops
        page.keyboard.press("Tab")
        page.evaluate("document.activeElement && document.activeElement.classList.add('tabbed')")
    return [
        control.evaluate("e => e.outerHTML.slice(0, 120)")
        for control in controls.all()
        if not control.evaluate(REACHED)
    ]

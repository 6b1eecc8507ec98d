"""Administrators' pages: users and roles, technicians' weeks and days off, the catalog.

Each form posts to its own URL; a refused change re-renders the page with the
reason beside the field (422) and writes nothing, an accepted one redirects with
a message (Post/Redirect/Get). The changes themselves are ``dispatch`` functions;
the event log names the signed-in administrator as their actor (``web.auth``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from dispatch import admin
from dispatch.accounts import link_technician
from dispatch.admin import WEEKDAYS, ScheduleError
from dispatch.catalog import CatalogError, load_catalog
from dispatch.days import service_area_zone
from dispatch.enums import Role
from dispatch.models import Technician, User
from dispatch.users import AccountError, create_user
from mobile_api.http import REPLAN_POLICY_KEY, login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Largest catalog document taken, pasted or uploaded (the shipped one has 7 kB).
CATALOG_MAX_BYTES = 256 * 1024
#: A time as the browser's time field sends it.
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
#: The form field an ``AccountError`` of ``create_user`` is about, by how its message starts.
_ACCOUNT_FIELDS = (
    ("a username", "username"),
    ("username", "username"),
    ("full name", "full_name"),
    ("e-mail", "email"),
    ("password", "password"),
)


# -- users ---------------------------------------------------------------------------------


@bp.get("/users")
@login_required(Role.ADMIN)
def users() -> Any:
    """Every account: roles, the technician it signs in as, whether it may sign in."""
    return render_template("admin/users.html", accounts=admin.accounts(g.db))


@bp.route("/users/new", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def new_user() -> Any:
    """Create an account with its roles and first password."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        try:
            created = create_user(
                g.db,
                username=form.get("username", ""),
                password=form.get("password", ""),
                roles=_roles(),
                full_name=form.get("full_name", ""),
                email=form.get("email", "").strip() or None,
            )
        except AccountError as exc:
            g.db.rollback()
            errors[_account_field(str(exc))] = str(exc)
        else:
            g.db.commit()
            flash(f"Created {created.username} ({_role_names(created)}).")
            return redirect(url_for("admin.user", user_id=created.id))
    return render_template(
        "admin/new_user.html", roles=list(Role), form=request.form, errors=errors
    ), (422 if errors else 200)


@bp.get("/users/<int:user_id>")
@login_required(Role.ADMIN)
def user(user_id: int) -> Any:
    """One account: its roles, its technician, whether it may sign in."""
    return _user_page(_user(user_id), {})


@bp.post("/users/<int:user_id>/roles")
@login_required(Role.ADMIN)
def user_roles(user_id: int) -> Any:
    """Give the account exactly the roles ticked."""
    account = _user(user_id)

    def change() -> str:
        admin.set_roles(g.db, account, _roles(), by=g.user)
        return f"{account.username} now has the roles: {_role_names(account)}."

    return _change_user(account, "roles", change)


@bp.post("/users/<int:user_id>/technician")
@login_required(Role.ADMIN)
def user_link(user_id: int) -> Any:
    """Let the account sign in as the technician chosen."""
    account = _user(user_id)

    def change() -> str:
        technician = link_technician(g.db, account.username, request.form.get("technician", ""))
        return f"{account.username} signs in as technician {technician.code} ({technician.name})."

    return _change_user(account, "technician", change)


@bp.post("/users/<int:user_id>/technician/unlink")
@login_required(Role.ADMIN)
def user_unlink(user_id: int) -> Any:
    """End the link to the account's technician (the phone then shows no jobs)."""
    account = _user(user_id)

    def change() -> str:
        technician = admin.unlink_technician(g.db, account)
        return f"{account.username} no longer signs in as technician {technician.code}."

    return _change_user(account, "technician", change)


@bp.post("/users/<int:user_id>/active")
@login_required(Role.ADMIN)
def user_active(user_id: int) -> Any:
    """Let the account sign in again, or end its sign-ins and keep it out."""
    account = _user(user_id)
    active = request.form.get("active") == "yes"

    def change() -> str:
        admin.set_active(g.db, account, active, by=g.user)
        return (
            f"{account.username} {'may sign in' if active else 'is deactivated and signed out'}."
        )

    return _change_user(account, "active", change)


def _change_user(account: User, field: str, change: Callable[[], str]) -> Any:
    """Make one change to an account: committed and its message flashed, or refused and
    rolled back, the account's page showing the reason by ``field`` (422)."""
    try:
        message = change()
    except AccountError as exc:
        g.db.rollback()
        return _user_page(account, {field: str(exc)})
    g.db.commit()
    flash(message)
    return redirect(url_for("admin.user", user_id=account.id))


# -- technicians ---------------------------------------------------------------------------


@bp.get("/technicians")
@login_required(Role.ADMIN)
def technicians() -> Any:
    """Every technician: skills, weekly hours, days off to come, the account linked."""
    return render_template(
        "admin/technicians.html",
        technicians=admin.technicians(g.db),
        accounts={a.user.id: a.user for a in admin.accounts(g.db)},
        weekdays=WEEKDAYS,
        today=_today(),
    )


@bp.get("/technicians/<code>")
@login_required(Role.ADMIN)
def technician(code: str) -> Any:
    """One technician's week and days off."""
    return _technician_page(_technician(code), {})


@bp.post("/technicians/<code>/hours")
@login_required(Role.ADMIN)
def technician_hours(code: str) -> Any:
    """Replace the weekly hours: a start and an end per day worked, both blank for a day off."""
    found = _technician(code)
    week: dict[int, tuple[time, time] | None] = {}
    errors: dict[str, str] = {}
    for weekday, name in enumerate(WEEKDAYS):
        start = request.form.get(f"start-{weekday}", "").strip()
        end = request.form.get(f"end-{weekday}", "").strip()
        if not start and not end:
            week[weekday] = None
        elif not (_CLOCK.fullmatch(start) and _CLOCK.fullmatch(end)):
            errors[str(weekday)] = f"{name}: give a start and an end as HH:MM, or neither"
        else:
            week[weekday] = (time.fromisoformat(start), time.fromisoformat(end))
    if not errors:
        try:
            admin.set_working_hours(g.db, found, week)
        except ScheduleError as exc:
            g.db.rollback()
            errors = {str(field): problem for field, problem in exc.problems.items()}
    if errors:
        return _technician_page(found, errors, form=request.form)
    g.db.commit()
    flash(f"Working hours of {found.code} saved.")
    return redirect(url_for("admin.technician", code=found.code))


@bp.post("/technicians/<code>/days-off")
@login_required(Role.ADMIN)
def technician_day_off(code: str) -> Any:
    """Record a day off; the technician's jobs that day go back to be planned again."""
    found = _technician(code)
    text = request.form.get("day", "").strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return _technician_page(found, {"day": "give the day as YYYY-MM-DD"}, form=request.form)
    try:
        done = admin.add_day_off(
            g.db,
            found,
            day,
            request.form.get("reason", ""),
            today=_today(),
            policy=current_app.extensions[REPLAN_POLICY_KEY],
        )
    except ScheduleError as exc:
        g.db.rollback()
        return _technician_page(
            found, {str(f): p for f, p in exc.problems.items()}, form=request.form
        )
    g.db.commit()
    moved = [*done.returned, *done.stopped]
    flash(
        f"{found.code} is off on {day.isoformat()}."
        + (f" Jobs sent back to be planned again: {', '.join(moved)}." if moved else "")
    )
    return redirect(url_for("admin.technician", code=found.code))


@bp.post("/technicians/<code>/days-off/<day>/remove")
@login_required(Role.ADMIN)
def technician_day_off_remove(code: str, day: str) -> Any:
    """Make a day off a working day again."""
    found = _technician(code)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    try:
        admin.remove_day_off(g.db, found, when, today=_today())
    except ScheduleError as exc:
        g.db.rollback()
        return _technician_page(found, {"days_off": exc.problems["day"]})
    g.db.commit()
    flash(f"{found.code} works on {when.isoformat()} again.")
    return redirect(url_for("admin.technician", code=found.code))


# -- catalog -------------------------------------------------------------------------------


@bp.route("/catalog", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def catalog() -> Any:
    """The service catalog, and loading a new version of its JSON document (pasted or a file).

    Loading upserts by code: items the document leaves out stay as they are. A document
    with any problem is refused whole (``load_catalog`` checks everything first).
    """
    problems: list[str] = []
    if request.method == "POST":
        document, problem = _catalog_document()
        if problem is None:
            try:
                count = load_catalog(g.db, document)
            except CatalogError as exc:
                g.db.rollback()
                problems = exc.problems
            else:
                g.db.commit()
                flash(f"Catalog loaded: {count} item(s) added or updated.")
                return redirect(url_for("admin.catalog"))
        else:
            problems = [problem]
    return render_template(
        "admin/catalog.html",
        items=admin.catalog_items(g.db),
        problems=problems,
        pasted=request.form.get("document", "") if problems else "",
        max_kib=CATALOG_MAX_BYTES // 1024,
    ), (422 if problems else 200)


# -- helpers -------------------------------------------------------------------------------


def _user(user_id: int) -> User:
    """The user with ``user_id``; 404 when there is none."""
    found = g.db.get(User, user_id)
    if found is None:
        abort(404, f"no user has id {user_id}")
    return found


def _technician(code: str) -> Technician:
    """The technician with ``code``; 404 when there is none."""
    found = admin.technician(g.db, code)
    if found is None:
        abort(404, f"no technician has code {code!r}")
    return found


def _user_page(account: User, errors: dict[str, str]) -> Any:
    everyone = admin.technicians(g.db)
    return render_template(
        "admin/user.html",
        account=account,
        linked=next((t for t in everyone if t.user_id == account.id), None),
        free=[t for t in everyone if t.user_id is None],
        roles=list(Role),
        errors=errors,
    ), (422 if errors else 200)


def _technician_page(found: Technician, errors: dict[str, str], form: Any = None) -> Any:
    return render_template(
        "admin/technician.html",
        technician=found,
        hours={h.weekday: h for h in found.working_hours},
        weekdays=WEEKDAYS,
        today=_today(),
        form=form or {},
        errors=errors,
    ), (422 if errors else 200)


def _roles() -> list[Role]:
    """The roles ticked on the form; an unknown value is refused like no role at all."""
    try:
        return [Role(value) for value in request.form.getlist("roles")]
    except ValueError:
        raise AccountError(f"roles are {', '.join(Role)}") from None


def _role_names(account: User) -> str:
    return ", ".join(role.role.value for role in account.roles)


def _account_field(message: str) -> str:
    """The form field an account error is about (roles when no field is named)."""
    return next((field for start, field in _ACCOUNT_FIELDS if message.startswith(start)), "roles")


def _catalog_document() -> tuple[Any, str | None]:
    """The pasted or uploaded catalog as parsed JSON, or why it cannot be read."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.stream.read(CATALOG_MAX_BYTES + 1)
    else:
        raw = request.form.get("document", "").encode()
    if not raw.strip():
        return None, "paste the catalog's JSON document or choose its file"
    if len(raw) > CATALOG_MAX_BYTES:
        return None, f"the document is larger than {CATALOG_MAX_BYTES // 1024} KiB"
    try:
        return current_app.json.loads(raw), None
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"
    except ValueError as exc:
        return None, f"the document is not JSON: {exc}"


def _today() -> date:
    """Today on the service area's clock: what 'past' means for days off."""
    return datetime.now(service_area_zone(g.db)).date()

"""The technician's phone app: an installable, offline-first web app served under ``/tech/``.

The files in ``mobile_api/phone_app/`` are the app's shell; it holds no data (everything
comes from the technician API with the phone's bearer token), so it needs no sign-in.
The service worker precaches the shell: it is sent with the list of shell files and a
version made from their contents, so that a new release replaces the cached shell.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory

FILES = Path(__file__).resolve().parent / "phone_app"
#: Vendored libraries the shell loads, under ``/static/``, precached with it.
VENDORED = ("vendor/dexie/dexie.min.js",)

bp = Blueprint("phone_app", __name__, url_prefix="/tech")


@bp.get("/")
def shell() -> Response:
    """The app's one page."""
    return send_from_directory(FILES, "index.html", max_age=0)


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, with the shell it precaches; its scope is ``/tech/``."""
    version, urls = _shell()
    source = (FILES / "sw.js").read_text(encoding="utf-8")
    preamble = f"const SHELL = {json.dumps({'version': version, 'urls': urls})};\n"
    response = Response(preamble + source, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/tech/"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest, with the type browsers expect of one."""
    return send_from_directory(FILES, "manifest.webmanifest", mimetype="application/manifest+json")


@bp.get("/<path:name>")
def asset(name: str) -> Response:
    """The shell's scripts, stylesheet and icons (``send_from_directory`` refuses ``..``)."""
    return send_from_directory(FILES, name)


@cache
def _shell_of(static_folder: str) -> tuple[str, list[str]]:
    files = sorted(path for path in FILES.rglob("*") if path.is_file() and path.name != "sw.js")
    vendored = [Path(static_folder) / name for name in VENDORED]
    digest = hashlib.sha256()
    for path in (*files, *vendored):
        digest.update(path.read_bytes())
    urls = ["/tech/"] + [
        f"/tech/{path.relative_to(FILES).as_posix()}"
        for path in files
        if path.name != "index.html"
    ]
    urls += [f"/static/{name}" for name in VENDORED]
    return digest.hexdigest()[:16], urls


def _shell() -> tuple[str, list[str]]:
    """The shell's version (a digest of its files) and the URLs of its files."""
    return _shell_of(str(current_app.static_folder))

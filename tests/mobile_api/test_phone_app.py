"""The technician's phone app's shell under /tech/: served without sign-in, installable
(manifest, icons, service worker scoped to /tech/), and allowed nothing from other hosts."""

from __future__ import annotations

import json
import re
import struct

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.conftest import app, make_app, nominatim

__all__ = ["app", "make_app", "nominatim"]  # fixtures used from here


def get(client: FlaskClient, url: str) -> TestResponse:
    """The answer, read whole and closed (files are sent as open file handles)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def local_references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/[^"]*)"', html)


def test_the_shell_opens_without_sign_in_and_loads_only_its_own_files(app: Flask) -> None:
    client = app.test_client()
    page = get(client, "/tech/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<form id="login-form">' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    references = local_references(html)
    assert "/static/vendor/dexie/dexie.min.js" in references
    assert "/tech/app.js" in references
    for url in references:
        assert get(client, url).status_code == 200, url
    assert get(client, "/tech/no-such-file.js").status_code == 404
    assert get(client, "/tech/%2e%2e/phone_app.py").status_code == 404


def test_the_service_worker_is_scoped_to_the_app_and_precaches_its_shell(app: Flask) -> None:
    client = app.test_client()
    worker = get(client, "/tech/sw.js")
    assert worker.status_code == 200
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/tech/"
    assert "no-store" in worker.headers["Cache-Control"]  # a new release is seen at once
    source = worker.get_data(as_text=True)
    preamble = re.match(r"const SHELL = (.*);\n", source)
    assert preamble is not None
    shell = json.loads(preamble.group(1))
    for url in ("/tech/", "/tech/app.js", "/tech/manifest.webmanifest"):
        assert url in shell["urls"]
    assert "/static/vendor/dexie/dexie.min.js" in shell["urls"]
    assert "/tech/sw.js" not in shell["urls"]
    for url in shell["urls"]:
        assert get(client, url).status_code == 200, url
    for module in ("app.js", "store.js", "outbox.js"):
        assert f"/tech/{module}" in shell["urls"]


def test_the_manifest_makes_the_app_installable(app: Flask) -> None:
    client = app.test_client()
    answer = get(client, "/tech/manifest.webmanifest")
    assert answer.mimetype == "application/manifest+json"
    manifest = answer.get_json(force=True)
    assert manifest["start_url"] == manifest["scope"] == "/tech/"
    assert manifest["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = set()
    for icon in manifest["icons"]:
        image = get(client, icon["src"])
        assert image.status_code == 200, icon["src"]
        if icon["type"] == "image/png":
            width, height = struct.unpack(">II", image.data[16:24])  # the PNG's IHDR
            assert icon["sizes"] == f"{width}x{height}"
            assert "maskable" in icon["purpose"].split()
            sizes.add(width)
    assert {192, 512} <= sizes


def test_the_policy_lets_the_app_show_its_own_images_and_nothing_from_other_hosts(
    app: Flask,
) -> None:
    client = app.test_client()
    policy = get(client, "/tech/").headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert "script-src" not in directives  # scripts fall back to 'self' alone: no eval, no inline
    assert directives["img-src"] == ["'self'", "blob:", "data:"]
    assert not re.search(r"https?:|\*", policy)

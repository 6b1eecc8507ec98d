"""Object-level authorization: every route of the technician API, walked with someone else's ids.

A technician sends valid requests naming another technician's job and attachment on
every operation with an id in its path: each answers 404, exactly as for an id that does
not exist, and changes nothing. Routes without ids show only the caller's own data. A
requester, whose account has no technician, is refused everywhere.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Flask

from dispatch.enums import Role
from tests.mobile_api.conftest import API, Phone, device_time, new_id
from tests.web.conftest import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def bodies(job: str, attachment: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid request for every operation (method, rule), naming ``job`` and ``attachment``."""
    jobs = f"{API}/jobs/<reference>"
    return {
        ("GET", f"{API}/me/route"): {"query_string": {"date": "2026-11-24"}},
        ("GET", f"{API}/me/van"): {},
        ("GET", f"{API}/sync"): {},
        ("GET", jobs): {},
        ("POST", f"{jobs}/status"): {
            "json": {"id": new_id(), "status": "en_route", "device_time": device_time()}
        },
        ("POST", f"{jobs}/notes"): {
            "json": {"id": new_id(), "body": "x", "device_time": device_time()}
        },
        ("POST", f"{jobs}/parts-used"): {
            "json": {
                "lines": [{"id": new_id(), "sku": "X", "quantity": 1}],
                "device_time": device_time(),
            }
        },
        ("PUT", f"{jobs}/attachments/<uuid:attachment_id>"): {
            "data": PNG,
            "content_type": "image/png",
            "query_string": {"kind": "photo", "device_time": device_time()},
        },
        ("GET", f"{jobs}/attachments/<uuid:attachment_id>"): {},
        ("POST", f"{API}/batch"): {
            "json": {
                "changes": [
                    {
                        "type": "note",
                        "id": new_id(),
                        "job": job,
                        "body": "x",
                        "device_time": device_time(),
                    }
                ]
            }
        },
    }


def operations(app: Flask) -> list[tuple[str, str]]:
    """Every (method, rule) of the API that needs a signed-in technician (signing in and
    out are the caller's own: ``test_auth``)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) and not rule.rule.startswith(
            (f"{API}/openapi", f"{API}/auth/")
        ):
            found += [
                (m, rule.rule) for m in sorted(rule.methods or ()) if m not in ("HEAD", "OPTIONS")
            ]
    return found


def test_another_technicians_ids_answer_404_on_every_route(
    app: Flask, phone: Phone, other_phone: Phone
) -> None:
    theirs = other_phone.jobs()[0]
    attachment = new_id()
    upload = other_phone.send(
        "PUT",
        f"/jobs/{theirs}/attachments/{attachment}",
        data=PNG,
        content_type="image/png",
        query_string={"kind": "photo", "device_time": device_time()},
    )
    assert upload.status_code == 201
    requests = bodies(theirs, attachment)
    walked = [op for op in operations(app) if op in requests]
    # The stream takes no ids and shows only the caller's feed (test_stream).
    unwalked = set(operations(app)) - set(requests) - {("GET", f"{API}/events")}
    assert not unwalked, f"add these operations to the walk: {sorted(unwalked)}"
    for method, rule in walked:
        path = rule.replace("<reference>", theirs).replace("<uuid:attachment_id>", attachment)
        response = phone.client.open(
            path, method=method, headers=phone.headers, **requests[(method, rule)]
        )
        text = response.get_data(as_text=True)
        if "<reference>" in rule:
            assert response.status_code == 404, (method, rule, text)
            assert response.mimetype == "application/problem+json"
        else:
            assert response.status_code in (200, 201), (method, rule, text)
        if rule.endswith("/batch"):
            assert response.get_json()["results"][0]["status"] == 404
        elif response.status_code < 300:
            assert theirs not in text, (method, rule)
    assert other_phone.get(f"/jobs/{theirs}").get_json()["notes"] == []


def test_a_requester_is_refused_on_every_route(app: Flask, add_user: Any, phone: Phone) -> None:
    add_user("rita", Role.REQUESTER)
    client = app.test_client()
    headers = {"Authorization": "Basic " + base64.b64encode(f"rita:{PASSWORD}".encode()).decode()}
    theirs = phone.jobs()[0]
    requests = bodies(theirs, new_id())
    for method, rule in operations(app):
        path = rule.replace("<reference>", theirs).replace("<uuid:attachment_id>", new_id())
        response = client.open(
            path, method=method, headers=headers, **requests.get((method, rule), {})
        )
        assert response.status_code == 403, (method, rule, response.get_data(as_text=True))


def test_hostile_job_references_are_unknown_jobs(phone: Phone) -> None:
    for reference in ("%00", "J-0001%0A", "J" * 5000, "%C3%28"):
        response = phone.get(f"/jobs/{reference}")
        assert response.status_code == 404, reference
        assert response.mimetype == "application/problem+json"

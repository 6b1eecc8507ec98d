"""The technician API: my route, a job, status changes, notes, parts used, photos, my van."""

from __future__ import annotations

import random
import threading
import time
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from dispatch import fieldwork
from dispatch.enums import JobStatus
from dispatch.field_models import JobNote, PartUsage, ReportOutcome, StatusReport
from dispatch.models import CatalogItem, Job
from inventory import field as inventory_field
from inventory.models import Movement, MovementKind
from mobile_api.http import SESSIONS_KEY
from tests.mobile_api.conftest import Phone, device_time, new_id

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def job_status(app: Flask, reference: str) -> JobStatus:
    with app.extensions[SESSIONS_KEY]() as session:
        return session.scalars(select(Job.status).where(Job.reference == reference)).one()


def count(app: Flask, model: type, **where: Any) -> int:
    with app.extensions[SESSIONS_KEY]() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return session.scalars(query).one()


def status(phone: Phone, job: str, value: str, minutes: int, **extra: Any) -> dict[str, Any]:
    body = {"id": new_id(), "status": value, "device_time": device_time(minutes), **extra}
    response = phone.post(f"/jobs/{job}/status", body)
    assert response.status_code == 200, response.get_json()
    found: dict[str, Any] = response.get_json()
    return found


def test_my_route_lists_my_stops_in_order_with_times_and_job_cards(
    phone: Phone, day: date
) -> None:
    route = phone.get(f"/me/route?date={day.isoformat()}").get_json()
    assert route["technician"] == phone.technician
    assert route["version"] == 1
    jobs = [stop for stop in route["stops"] if stop["type"] == "job"]
    assert jobs, route
    arrivals = [stop["arrival"] for stop in jobs]
    assert arrivals == sorted(arrivals)
    assert [stop["sequence"] for stop in route["stops"]] == list(range(len(route["stops"])))
    card = jobs[0]["job"]
    assert card["site"]["address"] is not None
    assert card["status"] == "scheduled"
    assert "+" in jobs[0]["eta"] or jobs[0]["eta"].endswith("Z") or "-" in jobs[0]["eta"][19:]
    detail = phone.get(f"/jobs/{card['reference']}").get_json()
    assert detail["reference"] == card["reference"]


def test_a_bad_date_is_a_422_problem(phone: Phone) -> None:
    response = phone.get("/me/route?date=tomorrow")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "date"


def test_status_changes_walk_the_lifecycle_and_a_late_report_does_not_move_back(
    app: Flask, phone: Phone
) -> None:
    job = phone.jobs()[0]
    assert status(phone, job, "on_site", 10)["outcome"] == "applied"  # via dispatched, en route
    assert job_status(app, job) == JobStatus.ON_SITE
    late = status(phone, job, "en_route", 5)
    assert late["outcome"] == "superseded"
    assert job_status(app, job) == JobStatus.ON_SITE
    assert status(phone, job, "completed", 60)["job_status"] == "completed"
    older = status(phone, job, "paused", 30)  # made before "completed" on the phone
    assert older["outcome"] == "superseded"
    assert job_status(app, job) == JobStatus.COMPLETED
    assert count(app, StatusReport, outcome=ReportOutcome.SUPERSEDED) == 2


def test_cannot_complete_needs_a_reason(phone: Phone) -> None:
    job = phone.jobs()[0]
    body = {"id": new_id(), "status": "cannot_complete", "device_time": device_time()}
    response = phone.post(f"/jobs/{job}/status", body)
    assert response.status_code == 422
    assert "reason" in response.get_data(as_text=True)


def test_replays_of_a_change_in_random_order_apply_it_once(app: Flask, phone: Phone) -> None:
    job = phone.jobs()[0]
    status(phone, job, "on_site", 0)
    sku = "parts"
    van = phone.get("/me/van").get_json()
    assert van["parts"], van
    sku = van["parts"][0]["sku"]
    before = van["parts"][0]["on_hand"]
    changes = [
        ("/status", {"id": new_id(), "status": "paused", "device_time": device_time(5)}),
        ("/notes", {"id": new_id(), "body": "Valve seized", "device_time": device_time(6)}),
        (
            "/parts-used",
            {
                "lines": [{"id": new_id(), "sku": sku, "quantity": 1}],
                "device_time": device_time(7),
            },
        ),
    ]
    sends = [(path, body, f"key-{index}") for index, (path, body) in enumerate(changes)] * 3
    random.Random(7).shuffle(sends)
    answers: dict[str, list[bytes]] = {}
    for path, body, key in sends:
        response = phone.post(f"/jobs/{job}{path}", body, key=key)
        assert response.status_code in (200, 201), response.get_json()
        answers.setdefault(key, []).append(response.get_data())
    assert all(len(set(bodies)) == 1 for bodies in answers.values())  # byte-identical replays
    assert count(app, JobNote) == 1
    assert count(app, PartUsage) == 1
    with app.extensions[SESSIONS_KEY]() as session:
        used = session.scalars(
            select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.CONSUME)
        ).one()
    assert used == 1
    after = {line["sku"]: line["on_hand"] for line in phone.get("/me/van").get_json()["parts"]}
    assert after.get(sku, 0) == before - 1


def test_the_same_key_with_another_body_is_a_422(phone: Phone) -> None:
    job = phone.jobs()[0]
    note = {"id": new_id(), "body": "first", "device_time": device_time()}
    assert phone.post(f"/jobs/{job}/notes", note, key="k1").status_code == 201
    other = phone.post(f"/jobs/{job}/notes", {**note, "body": "second"}, key="k1")
    assert other.status_code == 422
    assert other.mimetype == "application/problem+json"


def test_a_shuffled_offline_batch_is_applied_in_device_order(app: Flask, phone: Phone) -> None:
    first, second = phone.jobs()[:2]
    queued = [
        {
            "type": "status",
            "id": new_id(),
            "job": first,
            "status": "en_route",
            "device_time": device_time(0),
        },
        {
            "type": "status",
            "id": new_id(),
            "job": first,
            "status": "on_site",
            "device_time": device_time(20),
        },
        {
            "type": "note",
            "id": new_id(),
            "job": first,
            "body": "Done, tested",
            "device_time": device_time(50),
        },
        {
            "type": "status",
            "id": new_id(),
            "job": first,
            "status": "completed",
            "device_time": device_time(55),
        },
        {
            "type": "status",
            "id": new_id(),
            "job": second,
            "status": "en_route",
            "device_time": device_time(60),
        },
        {
            "type": "status",
            "id": new_id(),
            "job": "J-NOT-MINE",
            "status": "en_route",
            "device_time": device_time(61),
        },
    ]
    shuffled = random.Random(3).sample(queued, len(queued))
    response = phone.post("/batch", {"changes": shuffled})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["id"] for r in results] == [item["id"] for item in shuffled]
    by_id = {r["id"]: r for r in results}
    assert by_id[queued[-1]["id"]]["result"] == "refused"
    assert by_id[queued[-1]["id"]]["status"] == 404
    assert all(by_id[item["id"]]["result"] == "applied" for item in queued[:-1])
    assert job_status(app, first) == JobStatus.COMPLETED
    assert job_status(app, second) == JobStatus.EN_ROUTE
    again = phone.post("/batch", {"changes": shuffled}).get_json()["results"]
    assert count(app, StatusReport) == 4  # resent: every record is kept once
    assert {r["result"] for r in again if r["job"] != "J-NOT-MINE"} <= {"applied", "superseded"}


def test_an_item_that_cannot_apply_is_refused_alone(app: Flask, phone: Phone) -> None:
    job = phone.jobs()[0]
    queued = [
        {
            "type": "parts_used",
            "id": new_id(),
            "job": job,
            "device_time": device_time(1),
            "lines": [{"id": new_id(), "sku": "NO-SUCH-SKU", "quantity": 1}],
        },
        {"type": "note", "id": new_id(), "job": job, "body": "ok", "device_time": device_time(2)},
    ]
    results = phone.post("/batch", {"changes": queued}).get_json()["results"]
    assert [r["result"] for r in results] == ["refused", "applied"]
    assert results[0]["status"] == 409
    assert count(app, PartUsage) == 0
    assert count(app, JobNote) == 1


def test_photos_are_checked_stored_and_served_to_the_technician(
    app: Flask, phone: Phone, other_phone: Phone
) -> None:
    job = phone.jobs()[0]
    photo = new_id()
    url = f"/jobs/{job}/attachments/{photo}?kind=photo&device_time=2026-11-24T09:00:00%2B01:00"
    not_an_image = phone.send("PUT", url, data=b"hello", content_type="image/png")
    assert not_an_image.status_code == 415
    stored = phone.send("PUT", url, data=PNG, content_type="image/png")
    assert stored.status_code == 201, stored.get_json()
    assert stored.get_json()["size_bytes"] == len(PNG)
    served = phone.get(f"/jobs/{job}/attachments/{photo}")
    assert served.status_code == 200
    assert served.data == PNG
    assert served.mimetype == "image/png"
    assert other_phone.get(f"/jobs/{job}/attachments/{photo}").status_code == 404
    too_big = phone.send(
        "PUT",
        url.replace(photo, new_id()),
        data=PNG + b"\x00" * (app.config.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)),
        content_type="image/png",
    )
    assert too_big.status_code == 413


@pytest.mark.postgresql_only
def test_concurrent_sends_of_one_key_apply_once_and_answer_alike(
    app: Flask, phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four copies in flight at once: the first holds the key until it commits, the others
    wait on it and replay its answer; the van's stock goes down once."""
    job = phone.jobs()[0]
    status(phone, job, "on_site", 0)
    sku = phone.get("/me/van").get_json()["parts"][0]["sku"]
    original = inventory_field.consume

    def slow_consume(*args: Any, **kwargs: Any) -> Any:
        used = original(*args, **kwargs)
        time.sleep(0.5)  # the key's row stays claimed while the others arrive
        return used

    monkeypatch.setattr(fieldwork, "consume", slow_consume)
    body = {"lines": [{"id": new_id(), "sku": sku, "quantity": 1}], "device_time": device_time(5)}
    barrier = threading.Barrier(4)
    answers: list[tuple[int, bytes]] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.post(
            f"/api/mobile/v1/jobs/{job}/parts-used",
            json=body,
            headers={**phone.headers, "Idempotency-Key": "same-key"},
        )
        answers.append((response.status_code, response.get_data()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 4
    assert {code for code, _ in answers} == {201}
    assert len({data for _, data in answers}) == 1
    with app.extensions[SESSIONS_KEY]() as session:
        used = session.scalars(
            select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.CONSUME)
        ).one()
    assert used == 1


@pytest.mark.parametrize("body", ["nul \x00 inside", "bell \x07", " ", "x" * 4001])
def test_a_note_with_control_characters_blank_or_too_long_is_a_422(
    app: Flask, phone: Phone, body: str
) -> None:
    job = phone.jobs()[0]
    note = {"id": new_id(), "body": body, "device_time": device_time()}
    response = phone.post(f"/jobs/{job}/notes", note)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "body"
    assert count(app, JobNote) == 0


def test_a_note_keeps_its_line_breaks(phone: Phone) -> None:
    job = phone.jobs()[0]
    note = {"id": new_id(), "body": "line one\nline two\ttabbed", "device_time": device_time()}
    assert phone.post(f"/jobs/{job}/notes", note).status_code == 201
    assert phone.get(f"/jobs/{job}").get_json()["notes"][0]["body"] == note["body"]


def test_a_job_card_shows_its_catalog_items_checklist(app: Flask, phone: Phone) -> None:
    job = phone.jobs()[0]
    with app.extensions[SESSIONS_KEY].begin() as session:
        found = session.scalars(select(Job).where(Job.reference == job)).one()
        found.request.catalog_item = CatalogItem(
            code="BOILER-SVC",
            name="Boiler service",
            category="heating",
            default_duration_min=60,
            checklist=["Check the flue", "Clean the burner"],
        )
    card = phone.get(f"/jobs/{job}").get_json()
    assert card["checklist"] == ["Check the flue", "Clean the burner"]
    route = phone.get(f"/me/route?date={phone.day.isoformat()}").get_json()
    assert next(s for s in route["stops"] if s.get("job", {}) and s["job"]["reference"] == job)[
        "job"
    ]["checklist"] == ["Check the flue", "Clean the burner"]


def test_a_record_id_sent_again_stores_once_and_cannot_name_other_content(
    app: Flask, phone: Phone
) -> None:
    first, second = phone.jobs()[:2]
    note = {"id": new_id(), "body": "Gate code 4411", "device_time": device_time()}
    assert phone.post(f"/jobs/{first}/notes", note).status_code == 201
    assert phone.post(f"/jobs/{first}/notes", note).status_code == 201  # no key: the id dedupes
    assert count(app, JobNote) == 1
    for job, body in ((first, {**note, "body": "changed"}), (second, note)):
        refused = phone.post(f"/jobs/{job}/notes", body)
        assert refused.status_code == 409
        assert "already names another record" in refused.get_json()["detail"]
    assert count(app, JobNote) == 1

"""Delta sync and the live streams: resume after a dropped connection, fan-out across processes.

Streams are read from a real server on a loopback port (Flask's test client buffers a
response whole), with a timeout on every read so that a bug fails instead of hanging.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from dispatch.devices import revoke
from dispatch.enums import Role
from dispatch.field_models import Device
from dispatch.models import Job, Technician
from mobile_api import events
from mobile_api.http import SESSIONS_KEY
from tests.mobile_api.conftest import Phone, device_time, new_id
from tests.web.conftest import PASSWORD

READ_TIMEOUT_S = 5.0


@dataclass
class Event:
    id: int
    kind: str
    data: dict[str, Any]


@pytest.fixture
def server(app: Flask) -> Iterator[BaseWSGIServer]:
    """The app served on a free loopback port, a thread per connection."""
    served = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()


class Stream:
    """An open event stream read line by line."""

    def __init__(self, server: BaseWSGIServer, path: str, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection(
            "127.0.0.1", server.server_port, timeout=READ_TIMEOUT_S
        )
        self.connection.request("GET", path, headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()
        assert self.response.getheader("Content-Type", "").startswith("text/event-stream")

    def next_event(self) -> Event:
        """The next event (comments and retry lines skipped); fails after the timeout."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.fp.readline().decode().rstrip("\n")
            if not line:
                if "id" in fields:
                    return Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                continue
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                fields[name] = value

    def events(self, count: int) -> list[Event]:
        return [self.next_event() for _ in range(count)]

    def close(self) -> None:
        self.connection.close()


def retitle(app: Flask, reference: str, title: str) -> None:
    """A dispatcher renames the job: news for its technician's phone."""
    with app.extensions[SESSIONS_KEY].begin() as session:
        session.scalars(select(Job).where(Job.reference == reference)).one().title = title


def cursor_now(phone: Phone) -> int:
    found = phone.get("/sync").get_json()
    while found["more"]:
        found = phone.get(f"/sync?cursor={found['cursor']}").get_json()
    cursor: int = found["cursor"]
    return cursor


def test_sync_gives_each_changed_job_once_and_tombstones_jobs_taken_away(
    app: Flask, phone: Phone, other_phone: Phone
) -> None:
    first = phone.get("/sync").get_json()
    kinds = {change["kind"] for change in first["changes"]}
    assert {"job.changed", "route.published"} <= kinds
    jobs = [c["job"] for c in first["changes"] if c["kind"] == "job.changed"]
    assert sorted(jobs) == sorted(set(jobs)) and set(phone.jobs()) <= set(jobs)
    cursor = cursor_now(phone)
    assert phone.get(f"/sync?cursor={cursor}").get_json()["changes"] == []
    mine, theirs = phone.jobs()[0], other_phone.jobs()[0]
    retitle(app, mine, "Boiler making a noise")
    retitle(app, mine, "Boiler making a loud noise")
    with app.extensions[SESSIONS_KEY].begin() as session:
        job = session.scalars(select(Job).where(Job.reference == mine)).one()
        job.technician_id = session.scalars(
            select(Technician.id).where(Technician.code == other_phone.technician)
        ).one()
    retitle(app, theirs, "Not for me")
    changes = phone.get(f"/sync?cursor={cursor}").get_json()["changes"]
    assert [(c["kind"], c["job"], c["removed"]) for c in changes] == [("job.removed", mine, True)]
    assert changes[0]["reason"] == "reassigned"
    theirs_now = other_phone.get(f"/sync?cursor={cursor}").get_json()["changes"]
    assert {c["job"] for c in theirs_now} == {mine, theirs}


@pytest.mark.parametrize("cursor", ["-1", "abc", "1.5", str(2**63)])
def test_a_bad_cursor_is_a_422(phone: Phone, cursor: str) -> None:
    response = phone.get(f"/sync?cursor={cursor}")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "cursor"


def test_a_stream_resumes_after_a_dropped_connection_missing_nothing(
    app: Flask, server: BaseWSGIServer, phone: Phone
) -> None:
    job = phone.jobs()[0]
    start = cursor_now(phone)
    stream = Stream(
        server, "/api/mobile/v1/events", {**phone.headers, "Last-Event-ID": str(start)}
    )
    retitle(app, job, "title 0")
    seen = stream.next_event()
    assert (seen.kind, seen.data["job"], seen.data["title"]) == ("job.changed", job, "title 0")
    stream.close()  # the phone drives into a tunnel
    for number in range(1, 6):
        retitle(app, job, f"title {number}")
    resumed = Stream(
        server, "/api/mobile/v1/events", {**phone.headers, "Last-Event-ID": str(seen.id)}
    )
    missed = resumed.events(5)
    assert [e.data["title"] for e in missed] == [f"title {n}" for n in range(1, 6)]
    assert [e.id for e in missed] == sorted({e.id for e in missed})
    assert missed[0].id > seen.id
    retitle(app, job, "live again")
    assert resumed.next_event().data["title"] == "live again"  # and then follows live
    resumed.close()


def test_a_status_change_reaches_the_technician_and_the_dispatchers_stream(
    app: Flask, server: BaseWSGIServer, phone: Phone, add_user: Any
) -> None:
    add_user("dana", Role.DISPATCHER)
    import base64

    basic = "Basic " + base64.b64encode(f"dana:{PASSWORD}".encode()).decode()
    start = cursor_now(phone)
    mine = Stream(server, "/api/mobile/v1/events", {**phone.headers, "Last-Event-ID": str(start)})
    board = Stream(server, f"/api/v1/events?last_event_id={start}", {"Authorization": basic})
    job = phone.jobs()[0]
    body = {"id": new_id(), "status": "en_route", "device_time": device_time()}
    assert phone.post(f"/jobs/{job}/status", body).status_code == 200
    for stream in (mine, board):
        statuses = []
        while "en_route" not in statuses:
            event = stream.next_event()
            statuses.append(event.data.get("status"))
        stream.close()


@pytest.mark.postgresql_only
def test_a_change_committed_by_another_process_reaches_the_stream(
    app: Flask, server: BaseWSGIServer, phone: Phone
) -> None:
    """Another process (a second server, a worker) commits; NOTIFY wakes this one's broker."""
    job = phone.jobs()[0]
    stream = Stream(
        server, "/api/mobile/v1/events", {**phone.headers, "Last-Event-ID": str(cursor_now(phone))}
    )
    script = (
        "import sys\n"
        "from sqlalchemy import select\n"
        "from dispatch.audit import make_session_factory\n"
        "from dispatch.db import make_engine\n"
        "from dispatch.models import Job\n"
        "sessions = make_session_factory(make_engine(sys.argv[1]))\n"
        "with sessions.begin() as session:\n"
        "    job = session.scalars(select(Job).where(Job.reference == sys.argv[2])).one()\n"
        "    job.title = 'from another process'\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, app.config["DATABASE_URL"], job], check=True, timeout=60
    )
    committed = time.monotonic()
    event = stream.next_event()
    waited = time.monotonic() - committed
    assert event.data["title"] == "from another process"
    assert waited < 1.0, f"the change took {waited:.2f} s to arrive"
    stream.close()


@pytest.mark.postgresql_only
def test_streams_open_on_a_pool_of_one_connection(
    app: Flask, make_app: Callable[..., Flask], phone: Phone
) -> None:
    """Opening a stream never holds two pooled connections at once: streams that arrive
    together cannot empty the pool and wait on each other (the pool's timeout, a 503)."""
    small = make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0)
    served = make_server("127.0.0.1", 0, small, threaded=True)
    threading.Thread(target=served.serve_forever, daemon=True).start()
    try:
        job = phone.jobs()[0]
        streams = [Stream(served, "/api/mobile/v1/events", phone.headers) for _ in range(3)]
        retitle(app, job, "heard on a small pool")
        for stream in streams:
            assert stream.next_event().data["title"] == "heard on a small pool"
            stream.close()
    finally:
        served.shutdown()


def test_a_stream_needs_a_technician(app: Flask, server: BaseWSGIServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    connection.request("GET", "/api/mobile/v1/events")
    response = connection.getresponse()
    assert response.status == 401
    assert response.getheader("Content-Type") == "application/problem+json"
    connection.close()


def test_a_stream_without_an_id_starts_live(
    app: Flask, server: BaseWSGIServer, phone: Phone
) -> None:
    """A phone that says nothing has synced first: no history, only what commits next."""
    job = phone.jobs()[0]
    stream = Stream(server, "/api/mobile/v1/events", phone.headers)
    retitle(app, job, "after connecting")
    assert stream.next_event().data["title"] == "after connecting"
    stream.close()


def test_a_stream_ends_after_its_lifetime_so_a_revoked_phone_stops_hearing(
    app: Flask, server: BaseWSGIServer, phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "STREAM_LIFETIME_S", 1.0)
    stream = Stream(server, "/api/mobile/v1/events", phone.headers)
    assert stream.response.read().startswith(b"retry: 3000")  # then the server closed it
    stream.close()
    with app.extensions[SESSIONS_KEY].begin() as session:
        for device in session.scalars(select(Device)):
            revoke(session, device.id, "phone lost")
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    connection.request("GET", "/api/mobile/v1/events", headers=phone.headers)
    assert connection.getresponse().status == 401
    connection.close()

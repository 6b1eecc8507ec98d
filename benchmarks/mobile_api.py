"""The technician API under load on loopback: open event streams, latency, my route, memory.

    python benchmarks/mobile_api.py [--streams 500] [--dispatchers 10] [--changes 40]
        [--rate 200] [--seconds 10] [--warm-up 3] [--workers 2] [--database-url URL] [--json]

Issue 10's targets, on one machine: 500 open Server-Sent Events streams held by one server;
a change reaches every stream it concerns with p99 <= 300 ms; ``GET /me/route``
answers with p95 <= 50 ms at 200 requests/s; and what one open stream costs in memory.

The server is the production one, gunicorn with ``--workers`` gevent workers, one per core as
the README's production command has it (``gunicorn -k gevent -w 2 --worker-connections 2000
'web.wsgi:app'``), on a free loopback port, on PostgreSQL: a
fresh schema in ``--database-url``'s database (default the test suite's), migrated, and dropped
at the end. The oslo-5x30 day is imported, planned (half a second) and published; each of its
technicians gets an account and signs in one phone, whose token all their streams and route
reads use; one dispatcher account streams with HTTP Basic.

1. Streams: ``--streams`` clients connect, ``--dispatchers`` of them to the dispatchers'
   stream ``/api/v1/events``, the rest spread evenly over the technicians'
   ``/api/mobile/v1/events``, each sending ``Last-Event-ID`` of the newest feed entry, as a
   phone that has just synced does. The clients are this script's: one asyncio connection
   each, a minimal HTTP/1.1 reader that splits the events on their ``id:``/``event:``/
   ``data:`` lines and notes when each event ended.
2. Memory: the workers' resident sets (``VmRSS`` in ``/proc/<pid>/status``, summed) after
   warming up (a route read and one stream of each kind opened and closed) and again with
   every stream open, the difference divided by the streams. The workers alone: the master
   only watches them.
3. Latency, with the streams open: ``--changes`` status reports on each technician's first job
   in turn (en route, then on site and paused alternately), one every ``--change-interval``
   seconds, half of them sent by the phone to the server (``POST /jobs/<ref>/status``: the
   event fans out inside the server process) and half applied and committed by this process
   through the app's session factory, as another server process would (the event reaches the
   server through PostgreSQL). The feed entries each change wrote are read back; every stream
   that should see one (its technician's, and every dispatcher's) counts one pair. From a
   commit here the clock starts when ``commit()`` returns; from the phone, when the request
   is sent (so that figure includes the request's own time, an upper bound).
4. My route, with the streams still open: ``GET /api/mobile/v1/me/route?date=<day>`` on the
   technicians' tokens in turn at ``--rate`` requests per second for ``--seconds``, each sent
   at its scheduled time whether or not earlier ones have been answered (open loop, over as
   many keep-alive connections as that needs); each time counts from the scheduled instant,
   and every answer counts, whatever its status. Before them come ``--warm-up`` seconds at
   half the rate, reported apart: in them each worker opens the database connections its
   pool keeps (``FIELDOPS_DB_POOL_SIZE``) and compiles its statements. Started cold at the
   full rate, the answers queue behind that work, and the little headroom left at 200/s on
   2 cores takes seconds to drain the queue (see the closing note of issue 10).

The clients share the machine with the server: on 2 cores, the figures include both.
Afterwards the server's log is read, and its errors are printed once each with a count.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.accounts import link_technician
from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.enums import JobStatus, Role
from dispatch.feed import latest_id
from dispatch.field_models import FeedEvent
from dispatch.fieldwork import report_status
from dispatch.models import Job, Technician
from dispatch.planning.problem import build_problem
from dispatch.planning.proposals import new_plan
from dispatch.planning.publish import publish, routes_in
from dispatch.scenario import import_scenario
from dispatch.schema import upgrade
from dispatch.users import create_user
from optimizer import SolveParams, solve

ROOT = Path(__file__).resolve().parents[1]
DAY = ROOT / "tests/data/fieldservice/oslo-5x30.json"
DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"
PASSWORD = "benchmark password"
DISPATCHER = "dispatcher"
TECHNICIAN_EVENTS = "/api/mobile/v1/events"
DISPATCHER_EVENTS = "/api/v1/events"
#: Seconds to wait for the server to answer after starting, and for streams to connect.
STARTUP_S = 60
CONNECT_S = 120
#: Connections opened at once while the streams connect.
CONNECTING = 50
#: Seconds after the last change for its events to arrive before the missing are counted.
SETTLE_S = 3


@dataclass(frozen=True, slots=True)
class Crew:
    """The published day, its technicians' accounts (by technician code) and ids, and the
    first job of each one's route."""

    day: date
    usernames: dict[str, str]
    ids: dict[str, int]
    first_jobs: dict[str, str]


@dataclass
class Listener:
    """One event stream: whose it is, and the id and arrival time of each event it got."""

    path: str
    authorization: str
    technician: int | None  # None: a dispatcher's stream, which sees every event
    received: list[tuple[int, float]] = field(default_factory=list)
    opened: bool = False
    ended: str | None = None  # why the stream stopped early


@dataclass(frozen=True, slots=True)
class Change:
    """A change made while the streams were open: when its clock started, and the feed
    entries it wrote (event id -> technician id, None for dispatchers only)."""

    path: str  # "phone" or "commit"
    started: float
    events: dict[int, int | None]
    answered_s: float = 0.0  # the phone's request: seconds until its answer arrived


# --- the database and the day --------------------------------------------------------------


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A new migrated schema in ``base_url``'s database, dropped on exit; yields its URL."""
    admin = make_engine(base_url)
    schema = f"fieldops_bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        joiner = "&" if "?" in base_url else "?"
        url = f"{base_url}{joiner}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def prepare(factory: sessionmaker[Session], document: dict[str, Any]) -> Crew:
    """Import the day, plan and publish it, and give each technician with a route an
    account; one dispatcher account."""
    with factory() as session:
        import_scenario(session, document)
        session.commit()
        day = date.fromisoformat(document["date"])
        problem = build_problem(session, day)
        solution = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
        plan = new_plan(session, day, problem, solution, reason="benchmark", created_by=None)
        session.commit()
        published = publish(session, plan.id, user_id=None)
        session.commit()
        first_jobs = {
            code: visits[0].job
            for code, visits in sorted(routes_in(published.document).items())
            if visits
        }
        usernames = {code: f"tech-{code.lower()}" for code in first_jobs}
        for code, username in usernames.items():
            create_user(
                session,
                username=username,
                password=PASSWORD,
                roles=[Role.TECHNICIAN],
                full_name=username,
            )
            link_technician(session, username, code)
        create_user(
            session,
            username=DISPATCHER,
            password=PASSWORD,
            roles=[Role.DISPATCHER],
            full_name=DISPATCHER,
        )
        session.commit()
        rows = session.execute(
            select(Technician.code, Technician.id).where(Technician.code.in_(first_jobs))
        )
        ids = {code: technician_id for code, technician_id in rows}
    return Crew(day, usernames, ids, first_jobs)


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def server(url: str, folder: Path, port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with ``workers`` gevent workers on ``port``, its output in
    ``folder/server.log``; stopped on exit."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDOPS_SECRET_KEY": secrets.token_urlsafe(48),
        "FIELDOPS_INSTANCE_PATH": str(folder / "instance"),
    }
    command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers)]
    command += ["--worker-connections", "2000", "-b", f"{HOST}:{port}", "web.wsgi:app"]
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_until_answering(process, port)
            wait_for_workers(process.pid, workers)
            yield process
        finally:
            stop(process)


def wait_until_answering(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}); see its log")
        try:
            status, _ = call(port, "GET", "/api/mobile/v1/openapi.json")
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            return
        raise SystemExit(f"the server answers {status} for its API document")
    raise SystemExit(f"the server did not answer within {STARTUP_S} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn at once (SIGINT), its workers with it; kill all if that takes long."""
    workers = workers_of(process.pid) if process.poll() is None else []
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
        process.kill()
        process.wait()


def workers_of(master: int) -> list[int]:
    """The pids of the gunicorn master's workers."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def wait_for_workers(master: int, workers: int) -> None:
    deadline = time.monotonic() + STARTUP_S
    while len(workers_of(master)) != workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn {master} did not start {workers} workers")
        time.sleep(0.2)


def rss_kib(pids: list[int]) -> int:
    """Resident set sizes of ``pids`` in KiB (VmRSS), summed."""
    total = 0
    for pid in pids:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        total += next(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))
    return total


def call(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """A blocking request (setup only); the status and the JSON answer, if any."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
        is_json = "json" in (response.getheader("Content-Type") or "")
        return response.status, json.loads(data) if is_json and data else None
    finally:
        connection.close()


def sign_in_phone(port: int, username: str) -> str:
    """A new phone signed in as ``username``: its ``Authorization`` header."""
    status, answer = call(
        port,
        "POST",
        "/api/mobile/v1/auth/login",
        {"username": username, "password": PASSWORD, "device": f"benchmark phone of {username}"},
    )
    if status != 200:
        raise SystemExit(f"signing {username} in answered {status}: {answer}")
    return f"Bearer {answer['access_token']}"


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()


# --- a minimal HTTP/1.1 client on asyncio streams ------------------------------------------


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and headers (names lower-cased) of an answer."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed before answering")
    status = int(status_line.split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def body_pieces(
    reader: asyncio.StreamReader, headers: dict[str, str]
) -> AsyncIterator[bytes]:
    """The body as it arrives: chunk by chunk when chunked, else by length or to the end."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)  # the chunk's CRLF
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        while piece := await reader.read(65536):
            yield piece


async def listen(listener: Listener, port: int, after: int, opened: asyncio.Future[None]) -> None:
    """Hold ``listener``'s stream open from after feed entry ``after`` (as a phone that has
    synced resumes), noting each event's id and arrival; ``opened`` is resolved when the
    answer's head arrives (or fails with the reason it did not)."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError as exc:
        opened.set_exception(exc)
        return
    try:
        headers = {
            "Authorization": listener.authorization,
            "Accept": "text/event-stream",
            "Last-Event-ID": str(after),
        }
        writer.write(request_bytes("GET", listener.path, headers))
        status, answer = await read_head(reader)
        if status != 200 or not answer.get("content-type", "").startswith("text/event-stream"):
            opened.set_exception(ConnectionError(f"{status} {answer.get('content-type')}"))
            return
        listener.opened = True
        opened.set_result(None)
        pending, event_id = b"", None
        async for piece in body_pieces(reader, answer):
            arrived = time.perf_counter()
            *lines, pending = (pending + piece).split(b"\n")
            for line in lines:
                line = line.removesuffix(b"\r")
                if not line:  # the event ends
                    if event_id is not None:
                        listener.received.append((event_id, arrived))
                    event_id = None
                elif line.startswith(b"id:"):
                    event_id = int(line[3:])
        listener.ended = "the server ended the stream"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        if not opened.done():
            opened.set_exception(exc)
        listener.ended = f"{type(exc).__name__}: {exc}"
    finally:
        writer.close()


class Connections:
    """Keep-alive connections for short requests: an idle one is reused, else one opened."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def get(self, path: str, authorization: str) -> int:
        """GET ``path``; the answer's status once its body has arrived."""
        reused = bool(self.idle)
        if reused:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            self.opened += 1
        try:
            writer.write(request_bytes("GET", path, {"Authorization": authorization}))
            status, headers = await read_head(reader)
            async for _ in body_pieces(reader, headers):
                pass
        except (ConnectionResetError, BrokenPipeError):
            writer.close()
            if reused:  # the server closed it while idle: what any client does is try anew
                return await self.get(path, authorization)
            raise
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


# --- the measurements ----------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def open_streams(
    listeners: list[Listener], port: int, after: int
) -> tuple[list[asyncio.Task[None]], dict[str, int]]:
    """Connect every listener, ``CONNECTING`` at a time, resuming after entry ``after``;
    their tasks, and how many failed by reason."""
    tasks: list[asyncio.Task[None]] = []
    failures: dict[str, int] = {}
    for start in range(0, len(listeners), CONNECTING):
        batch = []
        for listener in listeners[start : start + CONNECTING]:
            opened = asyncio.get_running_loop().create_future()
            tasks.append(asyncio.create_task(listen(listener, port, after, opened)))
            batch.append(opened)
        done, waiting = await asyncio.wait(batch, timeout=CONNECT_S)
        for future in waiting:
            future.cancel()
            failures["no answer"] = failures.get("no answer", 0) + 1
        for future in done:
            if future.exception() is not None:
                reason = f"{type(future.exception()).__name__}: {future.exception()}"
                failures[reason] = failures.get(reason, 0) + 1
    return tasks, failures


class Reports:
    """Status reports on each technician's first job: en route first, then on site and
    paused in turn, each a second later by the phone's clock than the one before."""

    def __init__(self, crew: Crew) -> None:
        self.crew = crew
        self.sent: dict[str, int] = dict.fromkeys(crew.first_jobs, 0)
        self.clock = datetime.now(UTC)

    def next(self, code: str) -> tuple[str, JobStatus, datetime]:
        """The job, the status to report on it next, and the phone's time for it."""
        count = self.sent[code]
        self.sent[code] += 1
        self.clock += timedelta(seconds=1)
        if count == 0:
            status = JobStatus.EN_ROUTE
        else:
            status = JobStatus.ON_SITE if count % 2 else JobStatus.PAUSED
        return self.crew.first_jobs[code], status, self.clock


def newest_entry(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return latest_id(session)


def feed_after(factory: sessionmaker[Session], last: int) -> dict[int, int | None]:
    """Feed entries after id ``last``: id -> technician id."""
    with factory() as session:
        rows = session.execute(
            select(FeedEvent.id, FeedEvent.technician_id)
            .where(FeedEvent.id > last)
            .order_by(FeedEvent.id)
        )
        return {event_id: technician_id for event_id, technician_id in rows}


def commit_report(
    factory: sessionmaker[Session], crew: Crew, code: str, reports: Reports, last: int
) -> Change:
    """Apply the technician's next report here and commit it, as another server process
    would; the clock starts when the commit returns."""
    reference, status, device_time = reports.next(code)
    with factory() as session:
        technician = session.get_one(Technician, crew.ids[code])
        job = session.scalars(select(Job).where(Job.reference == reference)).one()
        report_status(
            session,
            technician,
            job,
            report_id=uuid.uuid4(),
            status=status,
            device_time=device_time,
        )
        session.commit()
        started = time.perf_counter()
    return Change("commit", started, feed_after(factory, last))


async def phone_report(
    port: int,
    factory: sessionmaker[Session],
    authorization: str,
    reference: str,
    status: JobStatus,
    device_time: datetime,
    last: int,
) -> Change:
    """Send the report from the phone; the clock starts when the request is sent."""
    body = json.dumps(
        {"id": str(uuid.uuid4()), "status": status.value, "device_time": device_time.isoformat()}
    ).encode()
    headers = {
        "Authorization": authorization,
        "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        started = time.perf_counter()
        writer.write(
            request_bytes("POST", f"/api/mobile/v1/jobs/{reference}/status", headers, body)
        )
        answer, answer_headers = await read_head(reader)
        async for _ in body_pieces(reader, answer_headers):
            pass
        answered_s = time.perf_counter() - started
    finally:
        writer.close()
    if answer != 200:
        raise SystemExit(f"a status report on {reference} answered {answer}")
    events = await asyncio.to_thread(feed_after, factory, last)
    return Change("phone", started, events, answered_s)


async def make_changes(
    port: int,
    factory: sessionmaker[Session],
    crew: Crew,
    phones: dict[str, str],
    count: int,
    interval: float,
) -> list[Change]:
    """``count`` reports, one every ``interval`` seconds, on the technicians in turn; every
    other one from the phone, the rest committed here."""
    reports = Reports(crew)
    codes = sorted(crew.first_jobs)
    changes: list[Change] = []
    last = await asyncio.to_thread(newest_entry, factory)
    began = time.perf_counter()
    for number in range(count):
        await asyncio.sleep(max(0.0, began + number * interval - time.perf_counter()))
        code = codes[number % len(codes)]
        if number % 2:
            change = await asyncio.to_thread(commit_report, factory, crew, code, reports, last)
        else:
            reference, status, device_time = reports.next(code)
            change = await phone_report(
                port, factory, phones[code], reference, status, device_time, last
            )
        changes.append(change)
        last = max(change.events, default=last)
    await asyncio.sleep(SETTLE_S)
    return changes


@dataclass(frozen=True, slots=True)
class Latency:
    """Change-to-arrival seconds of every (stream, event) pair that should have arrived,
    and how many did not."""

    seconds: list[float]
    missing: int
    events: int


def latency(changes: list[Change], listeners: list[Listener], path: str) -> Latency:
    """Pairs of the changes made by ``path`` ("phone" or "commit")."""
    started = {
        event_id: (change.started, technician)
        for change in changes
        if change.path == path
        for event_id, technician in change.events.items()
    }
    seconds: list[float] = []
    missing = 0
    for listener in listeners:
        arrived = dict(listener.received)
        for event_id, (start, technician) in started.items():
            if listener.technician is not None and listener.technician != technician:
                continue
            if event_id in arrived:
                seconds.append(arrived[event_id] - start)
            else:
                missing += 1
    return Latency(seconds, missing, len(started))


@dataclass(frozen=True, slots=True)
class RouteLoad:
    """My route under an open-loop schedule: seconds from each scheduled instant to the
    answer, the statuses, the errors by kind, and the connections it took."""

    seconds: list[float]
    statuses: dict[int, int]
    errors: dict[str, int]
    connections: int
    behind_s: float  # how late the last request left (the client falling behind)


async def load_route(
    port: int, crew: Crew, phones: dict[str, str], rate: int, seconds: int
) -> RouteLoad:
    path = f"/api/mobile/v1/me/route?date={crew.day.isoformat()}"
    tokens = [phones[code] for code in sorted(phones)]
    connections = Connections(port)
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    times: list[float] = []

    async def one(due: float, authorization: str) -> None:
        try:
            status = await connections.get(path, authorization)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        times.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    began = time.perf_counter() + 0.1
    behind = 0.0
    for number in range(rate * seconds):
        due = began + number / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        behind = time.perf_counter() - due
        tasks.append(asyncio.create_task(one(due, tokens[number % len(tokens)])))
    await asyncio.gather(*tasks)
    connections.close()
    return RouteLoad(times, statuses, errors, connections.opened, behind)


async def warm_up(
    port: int, factory: sessionmaker[Session], crew: Crew, phones: dict[str, str], dispatcher: str
) -> None:
    """One route read, and one stream of each kind opened and closed."""
    code = min(phones)
    connections = Connections(port)
    status = await connections.get(
        f"/api/mobile/v1/me/route?date={crew.day.isoformat()}", phones[code]
    )
    connections.close()
    if status != 200:
        raise SystemExit(f"my route answered {status}")
    listeners = [
        Listener(TECHNICIAN_EVENTS, phones[code], crew.ids[code]),
        Listener(DISPATCHER_EVENTS, dispatcher, None),
    ]
    tasks, failures = await open_streams(listeners, port, newest_entry(factory))
    if failures:
        raise SystemExit(f"the event streams do not open: {failures}")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1)  # the server notices the closed streams


async def measure(
    args: argparse.Namespace,
    port: int,
    workers: list[int],
    factory: sessionmaker[Session],
    crew: Crew,
) -> dict[str, Any]:
    """Run the four measurements against the running server; the figures."""
    phones = {code: sign_in_phone(port, username) for code, username in crew.usernames.items()}
    dispatcher = basic(DISPATCHER)
    await warm_up(port, factory, crew, phones, dispatcher)
    rss_before = rss_kib(workers)

    codes = sorted(phones)
    listeners = [Listener(DISPATCHER_EVENTS, dispatcher, None) for _ in range(args.dispatchers)]
    listeners += [
        Listener(TECHNICIAN_EVENTS, phones[code], crew.ids[code])
        for code in (codes[n % len(codes)] for n in range(args.streams - args.dispatchers))
    ]
    began = time.perf_counter()
    tasks, failures = await open_streams(listeners, port, newest_entry(factory))
    connect_s = time.perf_counter() - began
    await asyncio.sleep(2)  # let the workers settle before reading their memory
    open_now = sum(1 for listener in listeners if listener.opened and listener.ended is None)
    rss_open = rss_kib(workers)

    changes = await make_changes(port, factory, crew, phones, args.changes, args.change_interval)
    cold = await load_route(port, crew, phones, max(1, args.rate // 2), args.warm_up)
    route = await load_route(port, crew, phones, args.rate, args.seconds)
    still_open = sum(1 for listener in listeners if listener.opened and listener.ended is None)
    ended: dict[str, int] = {}
    for listener in listeners:
        if listener.opened and listener.ended is not None:
            ended[listener.ended] = ended.get(listener.ended, 0) + 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    figures: dict[str, Any] = {
        "streams": {
            "asked": args.streams,
            "dispatchers": args.dispatchers,
            "opened": open_now,
            "connect_s": round(connect_s, 1),
            "refused": failures,
            "open_at_end": still_open,
            "ended_early": ended,
        },
        "memory": {
            "measured": f"gunicorn's {len(workers)} workers alone (VmRSS summed)",
            "workers": len(workers),
            "before_kib": rss_before,
            "open_kib": rss_open,
            "per_stream_kib": round((rss_open - rss_before) / max(open_now, 1), 1),
        },
    }
    for path in ("phone", "commit"):
        figures[f"latency_{path}"] = latency_figures(changes, listeners, path)
    figures["route"] = {
        "rate": args.rate,
        "seconds": args.seconds,
        "answered": len(route.seconds),
        "statuses": {str(status): count for status, count in sorted(route.statuses.items())},
        "errors": route.errors,
        "connections": route.connections,
        "client_behind_ms": ms(route.behind_s),
        "warm_up_s": args.warm_up,
        "warm_up_p95_ms": ms(percentile(cold.seconds, 95)) if cold.seconds else None,
        **{
            f"p{q}_ms": ms(percentile(route.seconds, q)) if route.seconds else None
            for q in (50, 95, 99)
        },
        "max_ms": ms(max(route.seconds)) if route.seconds else None,
    }
    return figures


def latency_figures(changes: list[Change], listeners: list[Listener], path: str) -> dict[str, Any]:
    found = latency(changes, listeners, path)
    answered = [change.answered_s for change in changes if change.path == path]
    return {
        "changes": len(answered),
        "events": found.events,
        "pairs": len(found.seconds) + found.missing,
        "missing": found.missing,
        "p50_ms": ms(percentile(found.seconds, 50)) if found.seconds else None,
        "p99_ms": ms(percentile(found.seconds, 99)) if found.seconds else None,
        "max_ms": ms(max(found.seconds)) if found.seconds else None,
        "request_p50_ms": ms(percentile(answered, 50)) if path == "phone" else None,
    }


def print_table(figures: dict[str, Any], log_problems: list[str]) -> None:
    streams, memory, route = figures["streams"], figures["memory"], figures["route"]
    row("measure", "target", "figure")
    row(
        "open event streams",
        str(streams["asked"]),
        f"{streams['opened']} opened ({streams['dispatchers']} dispatchers') in"
        f" {streams['connect_s']} s, {streams['open_at_end']} open at the end",
    )
    row(
        "memory per open stream",
        "",
        f"{memory['per_stream_kib']} KiB ({memory['workers']} workers' RSS"
        f" {memory['before_kib'] / 1024:.0f}"
        f" -> {memory['open_kib'] / 1024:.0f} MiB)",
    )
    for path, label in (("phone", "sent by the phone"), ("commit", "committed elsewhere")):
        found = figures[f"latency_{path}"]
        request = found["request_p50_ms"]
        row(
            f"change -> stream, {label}",
            "p99 <= 300 ms",
            f"p50 {found['p50_ms']} ms, p99 {found['p99_ms']} ms, max {found['max_ms']} ms;"
            f" {found['pairs'] - found['missing']}/{found['pairs']} arrived"
            f" ({found['changes']} changes, {found['events']} events)"
            + (f"; the request p50 {request} ms" if request is not None else ""),
        )
    row(
        f"GET my route at {route['rate']}/s",
        "p95 <= 50 ms",
        f"p50 {route['p50_ms']} ms, p95 {route['p95_ms']} ms, p99 {route['p99_ms']} ms,"
        f" max {route['max_ms']} ms; {route['answered']} answered {route['statuses']},"
        f" errors {route['errors'] or 'none'}, {route['connections']} connections;"
        f" p95 {route['warm_up_p95_ms']} ms in the {route['warm_up_s']} s warm-up at half the rate",
    )
    if streams["refused"] or streams["ended_early"]:
        print(f"refused: {streams['refused']}; ended early: {streams['ended_early']}")
    for line in log_problems:
        print(f"server log: {line}")


def row(name: str, target: str, figure: str) -> None:
    print(f"{name:<39}{target:<15}{figure}")


def server_log_problems(log: Path) -> list[str]:
    """The server log's error lines and the last lines of its tracebacks, each once with
    how often it came."""
    lines = log.read_text(errors="replace").splitlines()
    counts: dict[str, int] = {}
    for before, line in zip(["", *lines], lines, strict=False):
        logged = "[ERROR]" in line or "[CRITICAL]" in line
        raised = before.startswith(" ") and not line.startswith(" ") and "Error" in line
        if logged or raised:
            found = line.split("] ", 3)[-1] if logged else line  # without time and pid
            counts[found] = counts.get(found, 0) + 1
    return [f"{count} x {line}" for line, count in counts.items()]


def raise_file_limit(connections: int) -> None:
    """Room for ``connections`` sockets and more, in this process and the server it starts
    (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 1024
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            raise SystemExit(f"{connections} connections need {wanted} open files; limit {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--dispatchers", type=int, default=10, help="of the streams")
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--change-interval", type=float, default=0.25, help="seconds")
    parser.add_argument("--rate", type=int, default=200, help="route reads per second")
    parser.add_argument("--seconds", type=int, default=10, help="of route reads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn gevent workers")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=3,
        help="seconds of route reads at half the rate before the measured ones",
    )
    parser.add_argument(
        "--database-url",
        default=DATABASE_URL,
        help="PostgreSQL database to make the throwaway schema in",
    )
    parser.add_argument("--day", type=Path, default=DAY)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not 0 <= args.dispatchers < args.streams or args.changes < 2 or args.rate < 1:
        parser.error("take 0 <= --dispatchers < --streams, --changes >= 2, --rate >= 1")
    if args.workers < 1 or args.warm_up < 1:
        parser.error("take --workers >= 1 and --warm-up >= 1")
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url names a PostgreSQL database, as in production")
    # At worst every route read has a connection of its own, all open at once.
    raise_file_limit(args.streams + args.rate * args.seconds)
    document = json.loads(args.day.read_text())
    with tempfile.TemporaryDirectory() as folder, fresh_schema(args.database_url) as url:
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine)
            crew = prepare(factory, document)
            port = free_port()
            with server(url, Path(folder), port, args.workers) as process:
                workers = workers_of(process.pid)
                figures = asyncio.run(measure(args, port, workers, factory, crew))
        finally:
            engine.dispose()
        problems = server_log_problems(Path(folder) / "server.log")
    figures["server_log_problems"] = problems
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures, problems)


if __name__ == "__main__":
    main()

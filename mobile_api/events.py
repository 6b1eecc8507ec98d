"""Delta sync and live event streams, both read from the feed (``dispatch.feed``).

``GET /sync?cursor=N`` answers what changed for the technician after cursor N. The
streams (Server-Sent Events) send the same entries as they commit, each with its feed id
as the event id, so a client that reconnects with ``Last-Event-ID`` misses nothing.

One :class:`Broker` per process follows the feed: woken in-process by each commit of
this process, across processes by PostgreSQL's ``NOTIFY`` (and, as a safety net and on
SQLite, by polling), it reads the new entries once and hands each to the open streams
that want it. A stream holds no database connection while it waits.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.enums import Role
from dispatch.feed import FEED_CHANNEL, as_change, collapse, entries_after, latest_id, on_commit
from dispatch.field_models import FeedEvent
from mobile_api.blueprint import bp
from mobile_api.http import ENGINE_KEY, SESSIONS_KEY, login_required
from mobile_api.spec import api, responses
from mobile_api.views import me

logger = logging.getLogger(__name__)

BROKER_KEY = "fieldops.broker"
#: Seconds between polls of the feed when nothing wakes the broker.
POLL_S = 0.5
#: Seconds between keep-alive comments on a quiet stream (proxies close silent ones).
KEEPALIVE_S = 15.0
#: Events a stream may fall behind by before it is closed (the client resumes from its id).
BACKLOG = 2000
#: Entries read from the database at once.
PAGE = 500
#: Seconds a stream lasts before the client must reconnect (and so show a token that still
#: works: a revoked phone or an ended sign-in stops receiving within this time).
STREAM_LIFETIME_S = 900.0


@dataclass(eq=False)
class Subscriber:
    """One open stream: a technician's (``technician_id``) or a dispatcher's (None: all)."""

    technician_id: int | None
    events: queue.Queue[tuple[int, str, str] | None] = field(
        default_factory=lambda: queue.Queue(BACKLOG)
    )

    def wants(self, entry: FeedEvent) -> bool:
        return self.technician_id is None or entry.technician_id == self.technician_id


class Broker:
    """Follows the feed for one process and fans new entries out to its open streams."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._engine = engine
        self._sessions = sessions
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stop_commits = on_commit(sessions, lambda _newest: self._wake.set())

    def subscribe(self, technician_id: int | None) -> Subscriber:
        subscriber = Subscriber(technician_id)
        with self._lock:
            self._start()
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def stop(self) -> None:
        """Stop following the feed (the app is going away: its database with it)."""
        self._stopped.set()
        self._wake.set()
        self._stop_commits()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._sessions() as session:
            last = latest_id(session)
        self._thread = threading.Thread(
            target=self._follow, args=(last,), name="feed-broker", daemon=True
        )
        self._thread.start()
        if self._engine.dialect.name == "postgresql":
            threading.Thread(target=self._listen, name="feed-listener", daemon=True).start()

    def _follow(self, last: int) -> None:
        while not self._stopped.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                with self._sessions() as session:
                    entries = entries_after(session, last, technician_id=None, limit=PAGE)
            except Exception:  # a database restart: log it and try again at the next poll
                logger.exception("the event broker could not read the feed")
                continue
            if len(entries) == PAGE:
                self._wake.set()  # more to read
            for entry in entries:
                self._fan_out(entry)
                last = entry.id

    def _fan_out(self, entry: FeedEvent) -> None:
        event = (entry.id, entry.kind, json.dumps(as_change(entry)))
        with self._lock:
            subscribers = [s for s in self._subscribers if s.wants(entry)]
        for subscriber in subscribers:
            try:
                subscriber.events.put_nowait(event)
            except queue.Full:  # too far behind: end its stream, it resumes from its id
                self.unsubscribe(subscriber)
                _drain_and_close(subscriber)

    def _listen(self) -> None:
        """Wake the broker on each NOTIFY from another process; reconnect when cut off."""
        import psycopg

        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        delay = 1.0
        while not self._stopped.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {FEED_CHANNEL}")
                    delay = 1.0
                    while not self._stopped.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except psycopg.Error:
                logger.warning("feed listener lost its connection; retrying in %.0f s", delay)
                self._stopped.wait(delay)
                delay = min(delay * 2, 30.0)


def _drain_and_close(subscriber: Subscriber) -> None:
    while True:
        try:
            subscriber.events.get_nowait()
        except queue.Empty:
            break
    subscriber.events.put_nowait(None)


def broker() -> Broker:
    """This process's broker, made on first use."""
    extensions = current_app.extensions
    if BROKER_KEY not in extensions:
        extensions[BROKER_KEY] = Broker(extensions[ENGINE_KEY], extensions[SESSIONS_KEY])
    found: Broker = extensions[BROKER_KEY]
    return found


def last_event_id() -> int | None:
    """Where a reconnecting client left off: ``Last-Event-ID``, or ``?last_event_id=``
    (the cursor of its last sync, say); None when it says nothing."""
    given = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if given is None or not given.isdecimal() or len(given) > 18:
        return None
    return int(given)


def event_stream(technician_id: int | None, after: int | None) -> Iterator[str]:
    """The SSE text of a stream: the entries after ``after`` from the database (none when
    it is None: the client syncs first), then live ones as they commit, with keep-alive
    comments in between.

    Subscribes at once (inside the request), so that nothing committed from now on is
    missed between the replay and the live entries. The request's session is closed
    first: holding its connection while taking another could wait forever on a pool that
    streams arriving together have emptied, each holding one and waiting for a second.
    """
    g.db.close()
    hub = broker()
    sessions: sessionmaker[Session] = current_app.extensions[SESSIONS_KEY]
    subscriber = hub.subscribe(technician_id)
    if after is None:
        with sessions() as session:
            after = latest_id(session)
    return _stream(hub, subscriber, sessions, after)


def _stream(
    hub: Broker, subscriber: Subscriber, sessions: sessionmaker[Session], after: int
) -> Iterator[str]:
    ends = time.monotonic() + STREAM_LIFETIME_S
    try:
        yield f"retry: 3000\n: resuming after {after}\n\n"
        sent = after
        while True:  # the replay, a page per session: no connection held while sending
            with sessions() as session:
                entries = entries_after(
                    session, sent, technician_id=subscriber.technician_id, limit=PAGE
                )
            for entry in entries:
                yield _event(entry.id, entry.kind, json.dumps(as_change(entry)))
                sent = entry.id
            if len(entries) < PAGE:
                break
        while (left := ends - time.monotonic()) > 0:
            try:
                item = subscriber.events.get(timeout=min(KEEPALIVE_S, left))
            except queue.Empty:
                yield ": keep-alive\n\n"
                continue
            if item is None:
                return
            entry_id, kind, data = item
            if entry_id > sent:
                yield _event(entry_id, kind, data)
                sent = entry_id
    finally:
        hub.unsubscribe(subscriber)


def _event(entry_id: int, kind: str, data: str) -> str:
    return f"id: {entry_id}\nevent: {kind}\ndata: {data}\n\n"


STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}


# --- the technician's views ----------------------------------------------------------------


class SyncQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: int = Field(0, ge=0, le=2**62)
    limit: int = Field(PAGE, ge=1, le=PAGE)


class Change(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    kind: str


class Sync(BaseModel):
    cursor: int
    more: bool
    changes: list[Change]


@bp.get("/sync")
@login_required(Role.TECHNICIAN)
@api.validate(query=SyncQuery, resp=responses(Sync, 403), tags=["sync"])
def sync(query: SyncQuery) -> Any:
    """What changed for me after ``cursor`` (0: from the start): each job once, at its
    latest (``removed`` when it left me), other news in order; ``cursor`` to send next."""
    entries = entries_after(g.db, query.cursor, technician_id=me().id, limit=query.limit)
    return {
        "cursor": entries[-1].id if entries else query.cursor,
        "more": len(entries) == query.limit,
        "changes": collapse(entries),
    }


@bp.get("/events")
@login_required(Role.TECHNICIAN)
@api.validate(resp=responses(None, 403), tags=["sync"], skip_validation=True)
def events() -> Any:
    """My live events (``text/event-stream``): each feed entry for me as it commits; send
    ``Last-Event-ID`` (or ``?last_event_id=``) to resume after the last one received."""
    return event_stream(me().id, last_event_id()), 200, STREAM_HEADERS

"""A local stand-in for a Nominatim server, so tests never use the network.

It answers ``GET .../search?q=...&format=json`` the way Nominatim does (a
JSON list of places whose coordinates are strings, ``[]`` when nothing
matches) and records every request it receives, so tests can check what
the real geopy client sent and how often.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

Place = tuple[float, float, str]  # (lat, lon, display_name)


def _normalize(query: str) -> str:
    # Kept separate from dispatch.geocoding.normalize_query on purpose: the
    # fake plays the server, and must not share the code under test.
    return " ".join(query.split()).casefold()


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it."""

    path: str
    query: str | None
    user_agent: str | None
    received_at: float  # time.monotonic() when the request arrived


class _Server(ThreadingHTTPServer):
    fake: FakeNominatim


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = parse_qs(parts.query).get("q", [None])[0]
        fake._record(
            ReceivedRequest(
                path=parts.path,
                query=query,
                user_agent=self.headers.get("User-Agent"),
                received_at=time.monotonic(),
            )
        )
        if fake.delay_seconds:
            time.sleep(fake.delay_seconds)
        if fake.fail_status is not None:
            headers = {"Retry-After": "1"} if fake.fail_status == 429 else {}
            self._send(fake.fail_status, b"Service failure", "text/plain", headers)
        elif not parts.path.endswith("/search"):
            self._send(404, b"Not found", "text/plain")
        elif query is None:
            error = {"error": {"code": 400, "message": "Nothing to search for."}}
            self._send(400, json.dumps(error).encode(), "application/json")
        else:
            key = _normalize(query)
            body = [fake._place_json(key)] if key in fake.places else []
            self._send(200, json.dumps(body).encode(), "application/json")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout expired)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


class FakeNominatim:
    """Threaded HTTP server on 127.0.0.1 that imitates Nominatim's search.

    Parameters
    ----------
    places : dict
        Known addresses: query -> (lat, lon, display_name). Matching is
        whitespace- and case-insensitive, as on the real server.

    Attributes
    ----------
    fail_status : int or None
        When set (e.g. 503 or 429), every request gets this HTTP status.
    delay_seconds : float
        Pause before answering, to provoke client timeouts.
    """

    def __init__(self, places: dict[str, Place] | None = None) -> None:
        self.places = {_normalize(q): p for q, p in (places or {}).items()}
        self.fail_status: int | None = None
        self.delay_seconds = 0.0
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeNominatim:
        """Listen on a free port and serve from a daemon thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval makes stop() (server.shutdown) return quickly.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-nominatim",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeNominatim:  # noqa: PYI034 (start() returns this instance)
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("FakeNominatim is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """Number of requests received so far."""
        with self._lock:
            return len(self._requests)

    @property
    def user_agents(self) -> list[str | None]:
        """User-Agent header of each request received, oldest first."""
        return [r.user_agent for r in self.requests]

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _place_json(self, key: str) -> dict[str, object]:
        lat, lon, display_name = self.places[key]
        place_id = 100000 + list(self.places).index(key)
        return {
            "place_id": place_id,
            "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
            "osm_type": "node",
            "osm_id": place_id * 10,
            "lat": str(lat),
            "lon": str(lon),
            "class": "place",
            "type": "house",
            "place_rank": 30,
            "importance": 0.5,
            "addresstype": "place",
            "name": display_name.split(",")[0],
            "display_name": display_name,
            "boundingbox": [
                str(lat - 0.0005),
                str(lat + 0.0005),
                str(lon - 0.0005),
                str(lon + 0.0005),
            ],
        }

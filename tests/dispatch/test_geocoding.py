"""Tests for dispatch.geocoding, using the real geopy client.

Requests go to tests.fake_nominatim on 127.0.0.1, never to the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from geopy.exc import GeopyError
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dispatch.geocoding import (
    CachedGeocoder,
    GeocodeResult,
    GeocodingError,
    NominatimGeocoder,
    StopAfterFailure,
    make_geocoder,
    normalize_query,
)
from dispatch.models import GeocodeCache
from tests.fake_nominatim import FakeNominatim

USER_AGENT = "fieldops-tests/1.0 (dispatch@example.com)"

PLACES = {
    "10 downing street, london": (51.5033635, -0.1276248, "10 Downing Street, London, UK"),
    "brandenburger tor, berlin": (52.5162746, 13.3777041, "Brandenburger Tor, Berlin, DE"),
}


@pytest.fixture
def server() -> Iterator[FakeNominatim]:
    with FakeNominatim(PLACES) as fake:
        yield fake


def nominatim_for(server: FakeNominatim, **options: float) -> NominatimGeocoder:
    """Geocoder aimed at the fake server; no delays unless a test asks."""
    settings: dict[str, float] = {
        "min_delay_seconds": 0.0,
        "error_wait_seconds": 0.0,
        "timeout": 5.0,
    }
    settings.update(options)
    return NominatimGeocoder(
        user_agent=USER_AGENT,
        domain=urlsplit(server.url).netloc,
        scheme="http",
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    GeocodeCache.metadata.tables["geocode_cache"].create(engine)
    with Session(engine) as db:
        yield db
    engine.dispose()


def cache_rows(session: Session) -> list[GeocodeCache]:
    return list(session.scalars(select(GeocodeCache).order_by(GeocodeCache.query)))


# --- NominatimGeocoder -----------------------------------------------------


def test_found_address_returns_coordinates(server: FakeNominatim) -> None:
    """Known addresses come back with the server's coordinates and label."""
    geocoder = nominatim_for(server)

    london = geocoder.geocode("10 Downing Street, London")
    berlin = geocoder.geocode("Brandenburger Tor, Berlin")

    assert london == GeocodeResult(51.5033635, -0.1276248, "10 Downing Street, London, UK")
    assert berlin == GeocodeResult(52.5162746, 13.3777041, "Brandenburger Tor, Berlin, DE")
    assert [r.query for r in server.requests] == [
        "10 Downing Street, London",
        "Brandenburger Tor, Berlin",
    ]


def test_unknown_address_returns_none(server: FakeNominatim) -> None:
    """An address the server does not know yields None, not an error."""
    geocoder = nominatim_for(server)

    assert geocoder.geocode("1 Nowhere Lane, Atlantis") is None
    assert server.request_count == 1


def test_blank_query_returns_none_without_request(server: FakeNominatim) -> None:
    """A blank address is answered with None without asking the server."""
    geocoder = nominatim_for(server)

    assert geocoder.geocode("   \t ") is None
    assert server.request_count == 0


@pytest.mark.parametrize("status", [503, 429, 500])
def test_http_error_raises_geocoding_error(server: FakeNominatim, status: int) -> None:
    """An HTTP error is retried, then raised as a GeocodingError with a readable message."""
    server.fail_status = status
    geocoder = nominatim_for(server, max_retries=2)

    with pytest.raises(GeocodingError) as excinfo:
        geocoder.geocode("10 Downing Street, London")

    message = str(excinfo.value)
    assert message.startswith("Geocoding service failed")
    assert str(status) in message
    assert "Traceback" not in message and "\n" not in message
    assert isinstance(excinfo.value.__cause__, GeopyError)
    assert server.request_count == 3  # first try + max_retries, never swallowed


def test_unreachable_server_raises_geocoding_error(server: FakeNominatim) -> None:
    """A server that refuses connections raises GeocodingError."""
    geocoder = nominatim_for(server, max_retries=0)
    server.stop()

    with pytest.raises(GeocodingError, match="Geocoding service failed"):
        geocoder.geocode("10 Downing Street, London")


def test_timeout_raises_geocoding_error(server: FakeNominatim) -> None:
    """A server slower than the timeout raises GeocodingError mentioning the timeout."""
    server.delay_seconds = 0.5
    geocoder = nominatim_for(server, timeout=0.1, max_retries=0)

    with pytest.raises(GeocodingError, match="timed out"):
        geocoder.geocode("10 Downing Street, London")


def test_unreachable_server_fails_at_once_without_retry_or_traceback(
    server: FakeNominatim, caplog: pytest.LogCaptureFixture
) -> None:
    """No network: one attempt, no retry wait, and nothing logged with a traceback."""
    geocoder = nominatim_for(server, max_retries=2, error_wait_seconds=5.0)
    server.stop()
    started = time.monotonic()

    with caplog.at_level(logging.DEBUG), pytest.raises(GeocodingError):
        geocoder.geocode("10 Downing Street, London")

    assert time.monotonic() - started < 2.0, "a retry would have waited 5 s"
    assert [record for record in caplog.records if record.exc_info] == []


def test_timeout_is_not_retried(server: FakeNominatim) -> None:
    """A server that does not answer in time is asked once: retrying would double the wait."""
    server.delay_seconds = 0.5
    geocoder = nominatim_for(server, timeout=0.1, max_retries=2)

    with pytest.raises(GeocodingError, match="timed out"):
        geocoder.geocode("10 Downing Street, London")

    assert server.request_count == 1


def test_stop_after_failure_asks_a_failed_service_no_more(server: FakeNominatim) -> None:
    """After one failure every lookup fails with the same error without a request."""
    server.fail_status = 500
    geocoder = StopAfterFailure(nominatim_for(server, max_retries=0))

    with pytest.raises(GeocodingError) as first:
        geocoder.geocode("10 Downing Street, London")
    server.fail_status = None
    with pytest.raises(GeocodingError) as second:
        geocoder.geocode("Brandenburger Tor, Berlin")

    assert second.value is first.value
    assert server.request_count == 1


def test_make_geocoder_uses_the_configured_timeout(server: FakeNominatim) -> None:
    """A configured timeout replaces the default, which tolerates a half-second answer."""
    server.delay_seconds = 0.5
    slow_ok = make_geocoder(user_agent=USER_AGENT, url=server.url, min_delay_seconds=0.0)
    impatient = make_geocoder(
        user_agent=USER_AGENT, url=server.url, min_delay_seconds=0.0, timeout_seconds=0.1
    )

    assert slow_ok.geocode("10 Downing Street, London") is not None
    with pytest.raises(GeocodingError, match="timed out"):
        impatient.geocode("10 Downing Street, London")


def test_user_agent_reaches_server(server: FakeNominatim) -> None:
    """Every request carries the configured User-Agent header."""
    geocoder = nominatim_for(server)

    geocoder.geocode("10 Downing Street, London")
    geocoder.geocode("1 Nowhere Lane, Atlantis")

    assert server.user_agents == [USER_AGENT, USER_AGENT]


def test_rate_limiter_spaces_requests(server: FakeNominatim) -> None:
    """Two lookups reach the server at least min_delay_seconds apart."""
    geocoder = nominatim_for(server, min_delay_seconds=0.2)

    geocoder.geocode("10 Downing Street, London")
    geocoder.geocode("Brandenburger Tor, Berlin")

    first, second = server.requests
    # 10 ms allows for the first request spending longer in the client
    # (connection setup) than the second; unthrottled, the gap is ~1 ms.
    assert second.received_at - first.received_at >= 0.2 - 0.01


# --- normalize_query -------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("10 Downing Street", "10 downing street"),
        ("  10   Downing\tStreet \n", "10 downing street"),
        ("Große Straße 5", "grosse strasse 5"),
        ("", ""),
        (" \t\n ", ""),
    ],
)
def test_normalize_query(query: str, expected: str) -> None:
    """Whitespace runs collapse to one space, ends are stripped, case is folded."""
    assert normalize_query(query) == expected


# --- make_geocoder ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "api_url"),
    [
        (None, "https://nominatim.openstreetmap.org/search"),
        ("", "https://nominatim.openstreetmap.org/search"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/search"),
        ("https://geo.example.com/nominatim/", "https://geo.example.com/nominatim/search"),
    ],
)
def test_make_geocoder_splits_url(url: str | None, api_url: str) -> None:
    """Scheme, host, port and path prefix of the base URL end up in the search URL."""
    geocoder = make_geocoder(user_agent=USER_AGENT, url=url, min_delay_seconds=1.0)

    assert isinstance(geocoder, NominatimGeocoder)
    assert geocoder.api_url == api_url


@pytest.mark.parametrize("url", ["localhost:8081", "ftp://geo.example.com", "/nominatim"])
def test_make_geocoder_rejects_bad_url(url: str) -> None:
    """A URL that is not absolute http(s) is refused with ValueError."""
    with pytest.raises(ValueError, match="http"):
        make_geocoder(user_agent=USER_AGENT, url=url, min_delay_seconds=1.0)


def test_make_geocoder_reaches_server_under_path(server: FakeNominatim) -> None:
    """A geocoder built from a URL with a path prefix queries that path on that server."""
    geocoder = make_geocoder(
        user_agent=USER_AGENT, url=f"{server.url}/nominatim/", min_delay_seconds=0.0
    )

    result = geocoder.geocode("Brandenburger Tor, Berlin")

    assert result is not None and result.latitude == 52.5162746
    assert [r.path for r in server.requests] == ["/nominatim/search"]


# --- CachedGeocoder --------------------------------------------------------


def test_cache_miss_stores_result_and_hit_skips_service(
    server: FakeNominatim, session: Session
) -> None:
    """A found address is stored under its normalized query; the next lookup sends no request."""
    geocoder = CachedGeocoder(session, nominatim_for(server))

    first = geocoder.geocode("10 Downing Street, London")
    second = geocoder.geocode("  10 DOWNING street,   london ")

    assert (
        first == second == GeocodeResult(51.5033635, -0.1276248, "10 Downing Street, London, UK")
    )
    assert server.request_count == 1
    [row] = cache_rows(session)
    assert (row.query, row.latitude, row.longitude, row.display_name) == (
        "10 downing street, london",
        51.5033635,
        -0.1276248,
        "10 Downing Street, London, UK",
    )


def test_cache_hit_comes_from_database(server: FakeNominatim, session: Session) -> None:
    """An address already in the table is answered from the row without a request."""
    session.add(
        GeocodeCache(
            query="depot, springfield",
            latitude=1.5,
            longitude=-2.5,
            display_name="Depot, Springfield",
            created_at=datetime.now(UTC),
        )
    )
    session.flush()
    geocoder = CachedGeocoder(session, nominatim_for(server))

    assert geocoder.geocode("Depot,  Springfield") == GeocodeResult(
        1.5, -2.5, "Depot, Springfield"
    )
    assert server.request_count == 0


def test_not_found_is_not_cached(server: FakeNominatim, session: Session) -> None:
    """An unknown address is asked again each time and leaves no row."""
    geocoder = CachedGeocoder(session, nominatim_for(server))

    assert geocoder.geocode("1 Nowhere Lane, Atlantis") is None
    assert geocoder.geocode("1 Nowhere Lane, Atlantis") is None

    assert server.request_count == 2
    assert cache_rows(session) == []


def test_cache_flushes_without_committing(server: FakeNominatim, session: Session) -> None:
    """The new row is flushed into the open transaction, so a rollback removes it."""
    geocoder = CachedGeocoder(session, nominatim_for(server))

    geocoder.geocode("Brandenburger Tor, Berlin")

    assert not session.new  # already flushed, not merely added
    count = select(func.count()).select_from(GeocodeCache)
    assert session.scalar(count) == 1
    session.rollback()
    assert session.scalar(count) == 0


def test_service_error_propagates_and_caches_nothing(
    server: FakeNominatim, session: Session
) -> None:
    """A service failure on a cache miss raises GeocodingError and stores nothing."""
    server.fail_status = 503
    geocoder = CachedGeocoder(session, nominatim_for(server, max_retries=0))

    with pytest.raises(GeocodingError):
        geocoder.geocode("10 Downing Street, London")

    assert cache_rows(session) == []


class _FixedGeocoder:
    """Stub that always finds the same place and counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def geocode(self, query: str) -> GeocodeResult | None:
        self.calls += 1
        return GeocodeResult(1.0, 2.0, "Somewhere")


def test_overlong_query_is_not_cached(session: Session) -> None:
    """A query longer than the 500-character key column is answered but not stored."""
    stub = _FixedGeocoder()
    geocoder = CachedGeocoder(session, stub)
    query = "x" * 501

    assert geocoder.geocode(query) == GeocodeResult(1.0, 2.0, "Somewhere")
    assert geocoder.geocode(query) == GeocodeResult(1.0, 2.0, "Somewhere")

    assert stub.calls == 2
    assert cache_rows(session) == []

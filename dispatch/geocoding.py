"""Turn free-text addresses into coordinates for dispatch.

Lookups go to a Nominatim server through geopy. Nominatim's public usage
policy allows at most one request per second and asks for an identifying
User-Agent, so every request passes through geopy's ``RateLimiter``.
Results are cached in the database (``GeocodeCache``) so the same address
is never looked up twice. Service failures become ``GeocodingError`` so
callers deal with one exception type instead of geopy's hierarchy.

A server that cannot be reached or does not answer in time (no network) fails
at once, with one message and no retry: retrying only makes a person wait
longer for the same answer. Only an answer that says "busy" (429, 5xx) is
retried.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from geopy.adapters import AdapterHTTPError, URLLibAdapter
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from sqlalchemy.orm import Session

from dispatch.models import GeocodeCache

DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
#: Seconds to wait for the geocoding service before telling the person it did not answer.
DEFAULT_TIMEOUT_SECONDS = 3.0

# Width of the String(500) columns of GeocodeCache.
_MAX_COLUMN_LENGTH = 500


@dataclass(frozen=True)
class GeocodeResult:
    """Coordinates found for an address, plus the service's own label."""

    latitude: float
    longitude: float
    display_name: str


class GeocodingError(Exception):
    """The geocoding service could not answer (timeout, HTTP error, down)."""


class Geocoder(Protocol):
    """Anything that resolves an address; ``None`` means "not found"."""

    def geocode(self, query: str) -> GeocodeResult | None: ...


def normalize_query(query: str) -> str:
    """Return the canonical form of an address, used as the cache key.

    Addresses typed by people differ in spacing and capitalisation only;
    normalizing them lets those variants share one cache entry.

    Parameters
    ----------
    query : str
        Address as entered.

    Returns
    -------
    str
        The address with runs of whitespace collapsed to one space,
        stripped, and casefolded.
    """
    return " ".join(query.split()).casefold()


class NominatimGeocoder:
    """Geocoder backed by a Nominatim server, rate limited, retrying when it is busy.

    Parameters
    ----------
    user_agent : str
        Identifies the application to the server (required by its policy).
    domain : str
        Host, optionally with port and path prefix, of the server.
    scheme : str
        ``"https"`` or ``"http"``.
    min_delay_seconds : float
        Minimum spacing between two requests; 1.0 honours Nominatim's policy.
    timeout : float
        Seconds to wait for one HTTP response.
    max_retries : int
        Extra attempts after the server answered with a 429 or 5xx status.
    error_wait_seconds : float
        Pause before a retry; raised to ``min_delay_seconds`` if lower,
        because a retry must respect the rate limit too.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        domain: str = "nominatim.openstreetmap.org",
        scheme: str = "https",
        min_delay_seconds: float = 1.0,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = 2,
        error_wait_seconds: float = 5.0,
    ) -> None:
        # URLLibAdapter (stdlib) rather than geopy's default RequestsAdapter:
        # on a 429/503 carrying Retry-After, the latter silently retries
        # inside urllib3 and sleeps, which multiplies requests, bypasses the
        # rate limiter and can block the caller for minutes.
        self._client = Nominatim(
            user_agent=user_agent,
            domain=domain,
            scheme=scheme,
            timeout=timeout,
            adapter_factory=URLLibAdapter,
        )
        # The limiter only spaces requests. Its own retries would also retry an
        # unreachable server, and log a full traceback (geopy's logger, exc_info)
        # for each retry, which a CLI without logging set up prints to stderr.
        # swallow_exceptions=False: a failure must reach the caller, not
        # silently look like "address not found".
        self._rate_limited_geocode = RateLimiter(
            self._client.geocode,
            min_delay_seconds=min_delay_seconds,
            max_retries=0,
            swallow_exceptions=False,
        )
        self._max_retries = max_retries
        # A retry must respect the rate limit too.
        self._error_wait_seconds = max(error_wait_seconds, min_delay_seconds)

    @property
    def api_url(self) -> str:
        """Search endpoint the requests go to, e.g. for startup logs."""
        return str(self._client.api)

    def geocode(self, query: str) -> GeocodeResult | None:
        """Look up one address.

        Parameters
        ----------
        query : str
            Free-text address.

        Returns
        -------
        GeocodeResult or None
            The best match, or ``None`` when the server knows no such
            address (a blank query is not sent at all).

        Raises
        ------
        GeocodingError
            If the service cannot be reached or times out, or answers with
            an HTTP error (after the retries, when it said it was busy).
        """
        if not query.strip():
            return None
        attempt = 0
        while True:
            try:
                location = self._rate_limited_geocode(query, exactly_one=True)
                break
            except GeopyError as exc:
                if attempt >= self._max_retries or not _busy(exc):
                    raise GeocodingError(f"Geocoding service failed: {exc}") from exc
            attempt += 1
            time.sleep(self._error_wait_seconds)
        if location is None:
            return None
        return GeocodeResult(
            latitude=location.latitude,
            longitude=location.longitude,
            display_name=location.address,
        )


class StopAfterFailure:
    """Geocoder that stops asking a service once it has failed.

    For batches (a CSV file): after one ``GeocodingError`` every later lookup
    raises it again at once, so a hundred rows do not wait a hundred timeouts
    for a service that is down.

    Parameters
    ----------
    geocoder : Geocoder
        Service asked until it fails.
    """

    def __init__(self, geocoder: Geocoder) -> None:
        self._geocoder = geocoder
        self._failure: GeocodingError | None = None

    def geocode(self, query: str) -> GeocodeResult | None:
        """Look up an address, unless the service has already failed.

        Raises
        ------
        GeocodingError
            The service's failure, now or from an earlier lookup.
        """
        if self._failure is not None:
            raise self._failure
        try:
            return self._geocoder.geocode(query)
        except GeocodingError as exc:
            self._failure = exc
            raise


class CachedGeocoder:
    """Geocoder that answers from the ``geocode_cache`` table when it can.

    Only found addresses are stored: a "not found" may be fixed later in
    the map data, so it is asked again next time. Rows are flushed, never
    committed; the caller's unit of work decides.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session of the current unit of work.
    geocoder : Geocoder
        Service asked on a cache miss.
    """

    def __init__(self, session: Session, geocoder: Geocoder) -> None:
        self._session = session
        self._geocoder = geocoder

    def geocode(self, query: str) -> GeocodeResult | None:
        """Look up an address, from the cache first.

        Parameters
        ----------
        query : str
            Free-text address.

        Returns
        -------
        GeocodeResult or None
            The cached or freshly found match, or ``None`` if not found.

        Raises
        ------
        GeocodingError
            Propagated from the wrapped geocoder on a cache miss.
        """
        key = normalize_query(query)
        cached = self._session.get(GeocodeCache, key)
        if cached is not None:
            return GeocodeResult(
                latitude=cached.latitude,
                longitude=cached.longitude,
                display_name=cached.display_name,
            )
        result = self._geocoder.geocode(query)
        # A key wider than the column could not be stored; skip caching it.
        if result is not None and len(key) <= _MAX_COLUMN_LENGTH:
            self._session.add(
                GeocodeCache(
                    query=key,
                    latitude=result.latitude,
                    longitude=result.longitude,
                    display_name=result.display_name[:_MAX_COLUMN_LENGTH],
                    created_at=datetime.now(UTC),
                )
            )
            self._session.flush()
        return result


def make_geocoder(
    *,
    user_agent: str,
    url: str | None,
    min_delay_seconds: float,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Geocoder:
    """Build a Nominatim geocoder from a configured base URL.

    Configuration holds one URL (e.g. ``http://127.0.0.1:8081``) while
    geopy wants scheme and domain apart; this does the split.

    Parameters
    ----------
    user_agent : str
        Identifies the application to the server.
    url : str or None
        Base URL of the Nominatim server; may carry a port and a path
        prefix. ``None`` or empty means the public OpenStreetMap server.
    min_delay_seconds : float
        Minimum spacing between two requests.
    timeout_seconds : float
        Seconds to wait for one answer before giving up.

    Returns
    -------
    Geocoder
        A ready ``NominatimGeocoder``.

    Raises
    ------
    ValueError
        If the URL is not an absolute http(s) URL.
    """
    parts = urlsplit(url or DEFAULT_NOMINATIM_URL)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Geocoder URL must be an absolute http(s) URL: {url!r}")
    domain = parts.netloc + parts.path.rstrip("/")
    return NominatimGeocoder(
        user_agent=user_agent,
        domain=domain,
        scheme=parts.scheme,
        min_delay_seconds=min_delay_seconds,
        timeout=timeout_seconds,
    )


def _busy(error: GeopyError) -> bool:
    """Whether the server answered that it is busy or failing (429, 5xx), worth a retry.

    geopy raises HTTP errors from an ``AdapterHTTPError``; a server that was
    never reached, or did not answer in time, has no such cause.
    """
    cause = error.__cause__
    return isinstance(cause, AdapterHTTPError) and (
        cause.status_code == 429 or cause.status_code >= 500
    )

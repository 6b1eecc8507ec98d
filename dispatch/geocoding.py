"""Turn free-text addresses into coordinates for dispatch.

Lookups go to a Nominatim server through geopy. Nominatim's public usage
policy allows at most one request per second and asks for an identifying
User-Agent, so every request passes through geopy's ``RateLimiter``.
Results are cached in the database (``GeocodeCache``) so the same address
is never looked up twice. Service failures become ``GeocodingError`` so
callers deal with one exception type instead of geopy's hierarchy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol
from urllib.parse import urlsplit

from geopy.adapters import URLLibAdapter
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from sqlalchemy.orm import Session

from dispatch.models import GeocodeCache

DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"

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
    """Geocoder backed by a Nominatim server, rate limited and retrying.

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
        Extra attempts after a service error before giving up.
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
        timeout: float = 10.0,
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
        # swallow_exceptions=False: a failure must reach the caller, not
        # silently look like "address not found".
        self._rate_limited_geocode = RateLimiter(
            self._client.geocode,
            min_delay_seconds=min_delay_seconds,
            max_retries=max_retries,
            error_wait_seconds=max(error_wait_seconds, min_delay_seconds),
            swallow_exceptions=False,
        )

    @property
    def api_url(self) -> str:
        """Search endpoint the requests go to, e.g. for startup logs."""
        return self._client.api

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
            If the service times out, answers with an HTTP error or cannot
            be reached, after the retries are used up.
        """
        if not query.strip():
            return None
        try:
            location = self._rate_limited_geocode(query, exactly_one=True)
        except GeopyError as exc:
            raise GeocodingError(f"Geocoding service failed: {exc}") from exc
        if location is None:
            return None
        return GeocodeResult(
            latitude=location.latitude,
            longitude=location.longitude,
            display_name=location.address,
        )


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
                    created_at=datetime.now(timezone.utc),
                )
            )
            self._session.flush()
        return result


def make_geocoder(*, user_agent: str, url: str | None, min_delay_seconds: float) -> Geocoder:
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
    )

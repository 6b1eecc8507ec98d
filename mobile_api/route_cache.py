"""Route answers kept in each server process, so that a phone asking for its route again
costs one small query instead of a dozen.

A kept route is served while :func:`dispatch.technician_day.route_version` still names
what it was read from: any change to the technician's jobs, to what their cards show
(their requests and sites included), or a publish of the day moves the version, in
whichever process it was made. What the version does not cover (a catalog item's
checklist edited, a warehouse's name, a visit by another technician) shows within
:data:`ROUTE_CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

from cachetools import TTLCache
from flask import current_app
from sqlalchemy.orm import Session

from dispatch.models import Technician
from dispatch.technician_day import RouteSnapshot, RouteVersion, route_of, route_version

#: The longest a kept route is served, whatever its version says.
ROUTE_CACHE_SECONDS = 30
#: Routes kept per process (technician and day); the least recently used go first.
ROUTE_CACHE_SIZE = 4096

ROUTE_CACHE_KEY = "fieldops.route_cache"


class RouteCache:
    """Routes by (technician id, day), each with the version it was read at."""

    def __init__(
        self,
        *,
        size: int = ROUTE_CACHE_SIZE,
        seconds: float = ROUTE_CACHE_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kept: TTLCache[tuple[int, date], tuple[RouteVersion, RouteSnapshot]]
        self._kept = TTLCache(maxsize=size, ttl=seconds, timer=timer)
        self._lock = threading.Lock()  # cachetools' caches are not safe across threads

    def route(self, session: Session, user_id: int, day: date) -> RouteSnapshot | None:
        """The route on ``day`` of the technician signed in as ``user_id`` (None if the
        account is linked to none), read again only if its version moved.

        The version is read first, so a route read after it is at least as new: a
        change committed in between only costs the next request a read.
        """
        version = route_version(session, user_id, day)
        if version is None:
            return None
        key = (version.technician_id, day)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] == version:
            return kept[1]
        snapshot = route_of(session, session.get_one(Technician, version.technician_id), day)
        with self._lock:
            self._kept[key] = (version, snapshot)
        return snapshot


def route_cache() -> RouteCache:
    """This process's route cache, made on first use."""
    found: RouteCache = current_app.extensions.setdefault(ROUTE_CACHE_KEY, RouteCache())
    return found

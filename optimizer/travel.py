"""Travel-time models: how long a leg takes, as integer ticks, for whole matrices at once.

The engine only sees ``TravelModel.matrix``; a road-network provider (an OSRM
``table`` service, say) can replace the geodesic rule by implementing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from optimizer.problem import Location

# WGS-84 ellipsoid.
_A = 6_378_137.0
_F = 1 / 298.257223563
_B = (1 - _F) * _A


class TravelModel(Protocol):
    """Travel times between points, in the problem's ticks."""

    def matrix(self, points: Sequence[Location]) -> NDArray[np.int64]:
        """Square int64 matrix of travel ticks from ``points[i]`` to ``points[j]``."""
        ...


@dataclass(frozen=True, slots=True)
class GeodesicTravel:
    """FORMAT.md's rule: geodesic km (WGS-84) x ``circuity`` / ``speed_kmh``; ticks are seconds."""

    speed_kmh: float
    circuity: float

    def matrix(self, points: Sequence[Location]) -> NDArray[np.int64]:
        lat = np.radians([p.lat for p in points])
        lon = np.radians([p.lon for p in points])
        # Distances are symmetric: compute the upper triangle once and mirror it.
        i, j = np.triu_indices(len(points), k=1)
        metres = geodesic_metres(lat[i], lon[i], lat[j], lon[j])
        seconds = np.zeros((len(points), len(points)), dtype=np.int64)
        seconds[i, j] = self._seconds(metres)
        return seconds + seconds.T

    def legs(self, points: Sequence[Location]) -> NDArray[np.int64]:
        """Seconds of each leg of the path through ``points``, in order (one fewer than
        the points): what :meth:`matrix` gives each pair, in one computation."""
        lat = np.radians([p.lat for p in points])
        lon = np.radians([p.lon for p in points])
        return self._seconds(geodesic_metres(lat[:-1], lon[:-1], lat[1:], lon[1:]))

    def _seconds(self, metres: NDArray[np.float64]) -> NDArray[np.int64]:
        return np.rint(metres / 1000 * self.circuity / self.speed_kmh * 3600).astype(np.int64)


@dataclass(frozen=True, slots=True)
class EuclideanTravel:
    """Straight-line distance on the plane (Solomon instances), scaled to integer ticks."""

    ticks_per_unit: int = 1000

    def matrix(self, points: Sequence[Location]) -> NDArray[np.int64]:
        xy = np.array([(p.lat, p.lon) for p in points], dtype=float)
        dx, dy = (xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)
        distance: NDArray[np.float64] = np.hypot(dx, dy)
        return np.rint(distance * self.ticks_per_unit).astype(np.int64)


def geodesic_metres(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Vincenty's inverse formula on WGS-84, vectorized; radians in, metres out.

    Accurate to well under a millimetre for the distances a service day spans;
    it iterates until every pair has converged (near-antipodal pairs, which a
    day's plan never has, may not and are left at their last iterate).
    """
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(lat1, lon1, lat2, lon2)
    u1 = np.arctan((1 - _F) * np.tan(lat1))
    u2 = np.arctan((1 - _F) * np.tan(lat2))
    sin_u1, cos_u1, sin_u2, cos_u2 = np.sin(u1), np.cos(u1), np.sin(u2), np.cos(u2)
    longitude = lon2 - lon1
    lam = longitude.copy()
    for _ in range(100):
        sin_lam, cos_lam = np.sin(lam), np.cos(lam)
        sin_sigma = np.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = np.arctan2(sin_sigma, cos_sigma)
        with np.errstate(invalid="ignore", divide="ignore"):
            sin_alpha = np.where(sin_sigma == 0, 0.0, cos_u1 * cos_u2 * sin_lam / sin_sigma)
            cos2_alpha = 1 - sin_alpha**2
            cos_2sm = np.where(cos2_alpha == 0, 0.0, cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha)
        c = _F / 16 * cos2_alpha * (4 + _F * (4 - 3 * cos2_alpha))
        previous = lam
        lam = longitude + (1 - c) * _F * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if np.all(np.abs(lam - previous) < 1e-12):
            break
    u_sq = cos2_alpha * (_A**2 - _B**2) / _B**2
    a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = (
        b
        * sin_sigma
        * (
            cos_2sm
            + b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    metres: NDArray[np.float64] = _B * a * (sigma - delta_sigma)
    return metres

"""Travel models: the vectorized geodesic against geopy, and the plane's exact ticks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geopy.distance import geodesic

from optimizer.problem import Location
from optimizer.travel import EuclideanTravel, GeodesicTravel, geodesic_metres

CITIES = {
    "oslo": (59.91, 10.75),
    "stockholm": (59.33, 18.07),
    "madrid": (40.42, -3.70),
    "quito": (-0.18, -78.47),
    "wellington": (-41.29, 174.78),
}


def points_around(
    centre: tuple[float, float], count: int, seed: int, spread: float = 0.3
) -> list[Location]:
    """Random points within ``spread`` degrees of a city centre (about 30 km north-south)."""
    rng = np.random.default_rng(seed)
    lat = centre[0] + rng.uniform(-spread, spread, count)
    lon = centre[1] + rng.uniform(-spread, spread, count)
    return [Location(float(a), float(b)) for a, b in zip(lat, lon, strict=True)]


@pytest.mark.parametrize("city", sorted(CITIES))
def test_geodesic_matrix_agrees_with_geopy_within_a_second(city: str) -> None:
    """Each leg of the matrix is geopy's geodesic x circuity / speed, within one second."""
    points = points_around(CITIES[city], 40, seed=len(city))
    model = GeodesicTravel(speed_kmh=32.0, circuity=1.35)

    matrix = model.matrix(points)

    assert matrix.shape == (40, 40)
    assert matrix.dtype == np.int64
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            exact = geodesic((a.lat, a.lon), (b.lat, b.lon)).km * 1.35 / 32.0 * 3600
            assert abs(matrix[i, j] - exact) <= 1.0, (i, j, matrix[i, j], exact)


def test_geodesic_matrix_is_symmetric_with_a_zero_diagonal() -> None:
    """Travel there equals travel back, and staying put takes no time."""
    points = points_around(CITIES["oslo"], 60, seed=7)

    matrix = GeodesicTravel(25.0, 1.2).matrix(points)

    assert np.array_equal(matrix, matrix.T)
    assert not np.diagonal(matrix).any()
    off_diagonal = matrix[~np.eye(60, dtype=bool)]
    assert (off_diagonal > 0).all()


def test_geodesic_matrix_scales_with_speed_and_circuity() -> None:
    """Double speed halves each leg and a circuity of 1.5 lengthens it by half, to a second."""
    points = points_around(CITIES["stockholm"], 15, seed=3)

    base = GeodesicTravel(30.0, 1.0).matrix(points)
    faster = GeodesicTravel(60.0, 1.0).matrix(points)
    winding = GeodesicTravel(30.0, 1.5).matrix(points)

    assert np.abs(faster * 2 - base).max() <= 1
    assert np.abs(winding - base * 1.5).max() <= 1


def test_geodesic_matrix_of_duplicate_points() -> None:
    """Two technicians starting at one address are zero seconds apart."""
    home = Location(59.93, 10.71)

    matrix = GeodesicTravel(32.0, 1.35).matrix([home, Location(59.95, 10.78), home])

    assert matrix[0, 2] == matrix[2, 0] == 0
    assert matrix[0, 1] == matrix[2, 1] > 0


@pytest.mark.parametrize("city", sorted(CITIES))
def test_geodesic_metres_within_a_millimetre_of_geopy(city: str) -> None:
    """The vectorized Vincenty gives geopy's WGS-84 geodesic to a millimetre, over 200 km too."""
    a = points_around(CITIES[city], 200, seed=11, spread=2.0)
    b = points_around(CITIES[city], 200, seed=12, spread=2.0)

    metres = geodesic_metres(
        np.radians([p.lat for p in a]),
        np.radians([p.lon for p in a]),
        np.radians([p.lat for p in b]),
        np.radians([p.lon for p in b]),
    )

    exact = np.array(
        [geodesic((p.lat, p.lon), (q.lat, q.lon)).m for p, q in zip(a, b, strict=True)]
    )
    assert np.abs(metres - exact).max() < 1e-3


def test_geodesic_metres_of_a_point_to_itself_is_zero() -> None:
    """The formula's degenerate case (no separation) gives zero, not NaN."""
    lat, lon = np.radians([59.91, 0.0]), np.radians([10.75, 0.0])

    assert np.array_equal(geodesic_metres(lat, lon, lat, lon), [0.0, 0.0])


def test_geodesic_metres_along_the_equator_and_a_meridian() -> None:
    """Known lengths: one degree of the equator and a meridian's quarter, per WGS-84."""
    equator = geodesic_metres(np.radians(0.0), np.radians(0.0), np.radians(0.0), np.radians(1.0))
    meridian = geodesic_metres(np.radians(0.0), np.radians(0.0), np.radians(90.0), np.radians(0.0))

    assert float(equator) == pytest.approx(2 * math.pi * 6_378_137.0 / 360, abs=1e-3)
    assert float(meridian) == pytest.approx(10_001_965.729, abs=1e-2)


def test_euclidean_travel_is_exact_to_the_tick() -> None:
    """The plane's matrix is each distance x ticks per unit, rounded to the nearest tick."""
    rng = np.random.default_rng(5)
    points = [Location(float(x), float(y)) for x, y in rng.uniform(0, 100, (30, 2))]

    matrix = EuclideanTravel(1000).matrix(points)

    assert matrix.dtype == np.int64
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            assert matrix[i, j] == round(math.hypot(a.lat - b.lat, a.lon - b.lon) * 1000)


def test_euclidean_travel_on_whole_coordinates() -> None:
    """A 3-4-5 triangle is 5000 ticks apart with 1000 ticks per unit."""
    matrix = EuclideanTravel(1000).matrix([Location(0, 0), Location(3, 4), Location(3, 0)])

    assert matrix.tolist() == [[0, 5000, 3000], [5000, 0, 4000], [3000, 4000, 0]]


def test_a_paths_legs_are_the_matrix_entries_of_its_consecutive_stops() -> None:
    path = points_around(CITIES["stockholm"], 12, seed=3)
    path.insert(5, path[4])  # a leg between one place and itself
    model = GeodesicTravel(speed_kmh=32.0, circuity=1.35)

    matrix = model.matrix(path)

    assert model.legs(path).tolist() == [matrix[k, k + 1] for k in range(len(path) - 1)]
    assert model.legs(path)[4] == 0

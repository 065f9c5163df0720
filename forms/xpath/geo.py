"""Geographic functions: area, distance and geofence over geopoint, geotrace and
geoshape values ("lat lon [altitude [accuracy]]", points joined by ';').

They compute as ODK Collect does, on a sphere of the Earth's equatorial radius
(6,378,100 m), without altitude: ``distance`` adds the great-circle lengths
between consecutive points (spherical law of cosines); ``area`` sums the
triangles fanned from the first point on a local plane whose east-west scale
follows each point's latitude; ``geofence`` tests whether a point lies inside a
shape by counting edge crossings. Enketo and ODK Web Forms compute the area of
the same shape with another formula and round to centimetres, so their areas
differ from Collect's in the last digits: validation compares calculates that
use these functions with a tolerance (``APPROXIMATE``).
"""

from __future__ import annotations

import math

from forms.xpath.values import to_str

EARTH_RADIUS_M = 6_378_100.0
EARTH_CIRCUMFERENCE_M = 2 * math.pi * EARTH_RADIUS_M
APPROXIMATE = frozenset({"area", "enclosed-area", "distance"})


def points(args) -> list[tuple[float, float]]:
    """Every (lat, lon) in the arguments, in order; ValueError for a malformed point."""
    texts: list[str] = []
    for arg in args:
        if type(arg) is list:
            texts.extend(n.text() for n in arg)
        else:
            texts.append(to_str(arg))
    out = []
    for text in texts:
        for part in text.split(";"):
            if part.strip():
                out.append(_point(part))
    return out


def _point(text: str) -> tuple[float, float]:
    parts = text.split()
    try:
        if not 2 <= len(parts) <= 4:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
        for extra in parts[2:]:
            float(extra)
    except ValueError:
        raise ValueError(f"'{text.strip()[:60]}' is not a geopoint (lat lon [alt [accuracy]])"
                         ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"'{text.strip()[:60]}' is not a geopoint: latitude or longitude "
                         "out of range")
    return lat, lon


def _between(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlon = math.radians(a[1] - b[1])
    cosine = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.acos(max(-1.0, min(1.0, cosine))) * EARTH_RADIUS_M


def f_distance(ctx, *args):
    pts = points(args)
    return math.fsum(_between(pts[i - 1], pts[i]) for i in range(1, len(pts)))


def f_area(ctx, shape):
    pts = points([shape])
    if len(pts) < 3:
        return 0.0
    lat0, lon0 = pts[0]
    xs, ys = [], []
    for lat, lon in pts[1:]:
        ys.append((lat - lat0) * EARTH_CIRCUMFERENCE_M / 360.0)
        xs.append((lon - lon0) * EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / 360.0)
    total = math.fsum((ys[i - 1] * xs[i] - xs[i - 1] * ys[i]) / 2 for i in range(1, len(xs)))
    return abs(total)


def f_geofence(ctx, point, shape):
    """Whether the point lies inside the shape (its first and last points meet)."""
    spot = points([point])
    fence = points([shape])
    if len(spot) != 1 or len(fence) < 3:
        return False
    lat, lon = spot[0]
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(fence, fence[1:]):
        if (lat2 > lat) != (lat1 > lat):
            crossing = (lon1 - lon2) * (lat - lat2) / (lat1 - lat2) + lon2
            if lon < crossing:
                inside = not inside
    return inside


FUNCTIONS = {
    "area": (f_area, 1, 1),
    "enclosed-area": (f_area, 1, 1),
    "distance": (f_distance, 1, None),
    "geofence": (f_geofence, 2, 2),
}

"""Coordinates: WGS-84, GCJ-02 and BD-09, and great-circle distance.

Chinese map SDKs and the mini-program location API answer in GCJ-02 (or BD-09
for Baidu), which sits 100-700 m away from WGS-84 in cities: enough to pick the
wrong store. We convert at the edge and store WGS-84 only.

The GCJ-02 shift is the widely published algorithm (Krasovsky 1940 ellipsoid,
a = 6378245.0, e^2 = 0.00669342162296594323) as in googollee/eviltransform and
wandergis/coordtransform. Points outside the customary China rectangle
(lng 72.004..137.8347, lat 0.8293..55.8271, eviltransform's bounds) are not
shifted. The inverse GCJ-02 -> WGS-84 has no closed form: we iterate the forward
shift until the step is below 1e-9 degree (well under the required 1e-7, i.e.
about 1 cm), so a round trip lands within millimetres.

Distance is haversine on a sphere of the IUGG mean radius R = 6371008.8 m. Its
error against the ellipsoid is at most ~0.5 %, identical for every candidate
store at city scale, so nearest-store ranking is unaffected; it is also exactly
monotonic in the 3-D chord distance the store index uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from domain.errors import InvalidArgument

EARTH_MEAN_RADIUS_M = 6371008.8
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
_INVERSE_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 50


class CoordSystem(str, Enum):
    WGS84 = "WGS84"
    GCJ02 = "GCJ02"
    BD09 = "BD09"


@dataclass(frozen=True, slots=True)
class Location:
    """A point on Earth in a named coordinate system (degrees)."""

    lat: float
    lng: float
    system: CoordSystem = CoordSystem.WGS84

    def __post_init__(self) -> None:
        for name in ("lat", "lng"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidArgument(f"{name} must be a number", reason="INVALID_COORDINATE", field=name)
            if not math.isfinite(value):
                raise InvalidArgument(f"{name} must be finite", reason="INVALID_COORDINATE", field=name)
        if not -90.0 <= self.lat <= 90.0:
            raise InvalidArgument("lat must be within [-90, 90]", reason="INVALID_COORDINATE", lat=self.lat)
        if not -180.0 <= self.lng <= 180.0:
            raise InvalidArgument("lng must be within [-180, 180]", reason="INVALID_COORDINATE", lng=self.lng)
        if not isinstance(self.system, CoordSystem):
            raise InvalidArgument("system must be a CoordSystem", reason="INVALID_COORDINATE")
        object.__setattr__(self, "lat", float(self.lat))
        object.__setattr__(self, "lng", float(self.lng))


def out_of_china(lat: float, lng: float) -> bool:
    """The customary rectangle outside which GCJ-02 equals WGS-84."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift(lat: float, lng: float) -> tuple[float, float]:
    """GCJ-02 offset (dlat, dlng) in degrees for a WGS-84 point inside China."""
    x, y = lng - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += common
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlng += common
    dlng += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlng += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    dlng = (dlng * 180.0) / (KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if out_of_china(lat, lng):
        return lat, lng
    dlat, dlng = _shift(lat, lng)
    return lat + dlat, lng + dlng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Invert the shift by fixed-point iteration (it contracts: the shift varies slowly)."""
    if out_of_china(lat, lng):
        return lat, lng
    w_lat, w_lng = lat, lng
    for _ in range(_MAX_ITERATIONS):
        g_lat, g_lng = wgs84_to_gcj02(w_lat, w_lng)
        step_lat, step_lng = lat - g_lat, lng - g_lng
        w_lat, w_lng = w_lat + step_lat, w_lng + step_lng
        if abs(step_lat) < _INVERSE_TOLERANCE_DEG and abs(step_lng) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lat, w_lng


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lng: float) -> tuple[float, float]:
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Baidu's published approximate inverse, refined by iteration to be exact."""
    g_lat, g_lng = _bd09_to_gcj02_approx(lat, lng)
    for _ in range(_MAX_ITERATIONS):
        b_lat, b_lng = gcj02_to_bd09(g_lat, g_lng)
        step_lat, step_lng = lat - b_lat, lng - b_lng
        g_lat, g_lng = g_lat + step_lat, g_lng + step_lng
        if abs(step_lat) < _INVERSE_TOLERANCE_DEG and abs(step_lng) < _INVERSE_TOLERANCE_DEG:
            break
    return g_lat, g_lng


def convert(location: Location, target: CoordSystem) -> Location:
    """The same place expressed in ``target`` (via GCJ-02 for BD-09)."""
    if location.system is target:
        return location
    lat, lng = location.lat, location.lng
    if location.system is CoordSystem.BD09:
        lat, lng = bd09_to_gcj02(lat, lng)
    if location.system is CoordSystem.WGS84:
        lat, lng = wgs84_to_gcj02(lat, lng)
    # now GCJ-02
    if target is CoordSystem.WGS84:
        lat, lng = gcj02_to_wgs84(lat, lng)
    elif target is CoordSystem.BD09:
        lat, lng = gcj02_to_bd09(lat, lng)
    return Location(_clamp(lat, 90.0), _clamp(lng, 180.0), target)


def _clamp(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def to_wgs84(location: Location) -> Location:
    return convert(location, CoordSystem.WGS84)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(a: Location, b: Location) -> float:
    """Great-circle distance in metres; both points are brought to WGS-84 first."""
    a, b = to_wgs84(a), to_wgs84(b)
    return haversine_m(a.lat, a.lng, b.lat, b.lng)


VALUE_TYPES = (CoordSystem, Location)

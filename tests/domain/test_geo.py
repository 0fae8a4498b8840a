import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.geo import (
    CoordSystem,
    Location,
    bd09_to_gcj02,
    convert,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    to_wgs84,
    wgs84_to_gcj02,
)

# Published WGS-84 -> GCJ-02 pairs: googollee/eviltransform, python/test.py (TESTS):
# (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# wandergis/coordtransform, test/app.js, for input (lng 116.404, lat 39.915):
COORDTRANSFORM_WGS_TO_GCJ = (39.91640428150164, 116.41024449916938)
COORDTRANSFORM_GCJ_TO_BD = (39.92133699351021, 116.41036949371029)
COORDTRANSFORM_BD_TO_GCJ_APPROX = (39.90865673957631, 116.39762729119315)

china_lat = st.floats(min_value=18.0, max_value=53.0)
china_lng = st.floats(min_value=74.0, max_value=134.0)


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return haversine_m(a[0], a[1], b[0], b[1])


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wlat, wlng, glat, glng):
    lat, lng = wgs84_to_gcj02(wlat, wlng)
    assert lat == pytest.approx(glat, abs=1e-9)
    assert lng == pytest.approx(glng, abs=1e-9)


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_recovers_published_wgs_point_within_a_centimetre(wlat, wlng, glat, glng):
    assert metres_between(gcj02_to_wgs84(glat, glng), (wlat, wlng)) < 0.01


def test_wgs84_to_gcj02_matches_coordtransform_reference():
    assert wgs84_to_gcj02(39.915, 116.404) == pytest.approx(COORDTRANSFORM_WGS_TO_GCJ, abs=1e-9)


def test_gcj02_to_bd09_matches_coordtransform_reference():
    assert gcj02_to_bd09(39.915, 116.404) == pytest.approx(COORDTRANSFORM_GCJ_TO_BD, abs=1e-9)


def test_bd09_to_gcj02_is_within_ten_centimetres_of_baidus_approximate_inverse():
    assert metres_between(bd09_to_gcj02(39.915, 116.404), COORDTRANSFORM_BD_TO_GCJ_APPROX) < 0.1


def test_gcj_offset_in_a_city_is_hundreds_of_metres():
    wgs = (31.2304, 121.4737)  # Shanghai People's Square
    assert 100 < metres_between(wgs, wgs84_to_gcj02(*wgs)) < 700


@given(china_lat, china_lng)
def test_round_trip_wgs_gcj_wgs_is_within_one_metre(lat, lng):
    assert metres_between(gcj02_to_wgs84(*wgs84_to_gcj02(lat, lng)), (lat, lng)) < 1.0


@given(china_lat, china_lng)
def test_round_trip_wgs_bd_wgs_is_within_one_metre(lat, lng):
    bd = convert(Location(lat, lng, CoordSystem.WGS84), CoordSystem.BD09)
    back = to_wgs84(bd)
    assert back.system is CoordSystem.WGS84
    assert metres_between((back.lat, back.lng), (lat, lng)) < 1.0


@given(st.floats(min_value=-89.0, max_value=89.0), st.floats(min_value=-179.0, max_value=60.0))
def test_points_outside_china_are_not_shifted(lat, lng):
    assert wgs84_to_gcj02(lat, lng) == (lat, lng)
    assert gcj02_to_wgs84(lat, lng) == (lat, lng)
    assert to_wgs84(Location(lat, lng, CoordSystem.GCJ02)) == Location(lat, lng)


def test_to_wgs84_leaves_wgs84_untouched():
    here = Location(31.2, 121.4)
    assert to_wgs84(here) is here


@pytest.mark.parametrize(
    ("lat", "lng"), [(91.0, 0.0), (-90.5, 0.0), (0.0, 180.1), (math.nan, 0.0), (0.0, math.inf), ("1", 2.0), (True, 0)]
)
def test_location_rejects_out_of_range_or_non_numeric_coordinates(lat, lng):
    with pytest.raises(InvalidArgument) as e:
        Location(lat, lng)
    assert e.value.reason == "INVALID_COORDINATE"


def test_haversine_of_one_degree_of_latitude_is_about_111_km():
    assert haversine_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(111_195, abs=1)


def test_beijing_to_shanghai_is_about_1068_km():
    # Widely quoted great-circle distance between the two city centres: ~1,067-1,068 km.
    d = haversine_m(39.9042, 116.4074, 31.2304, 121.4737)
    assert 1_060_000 < d < 1_075_000


def test_distance_converts_both_points_to_wgs84_first():
    wgs = Location(31.2304, 121.4737)
    gcj = convert(wgs, CoordSystem.GCJ02)
    assert distance_m(wgs, gcj) < 0.01


@given(china_lat, china_lng, china_lat, china_lng)
def test_distance_is_symmetric_and_non_negative(a, b, c, d):
    assert haversine_m(a, b, c, d) == pytest.approx(haversine_m(c, d, a, b), abs=1e-6)
    assert haversine_m(a, b, c, d) >= 0

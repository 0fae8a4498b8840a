import random
from dataclasses import replace
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.store_index import StoreIndex
from domain.geo import haversine_m
from domain.routing import StoreSnapshot
from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus

HOURS = OpeningHours.always()
TOLERANCE_M = 1e-6
china_lat = st.floats(min_value=18.0, max_value=53.0)
china_lng = st.floats(min_value=74.0, max_value=134.0)


def snap(i: int, lat: float, lng: float, **changes) -> StoreSnapshot:
    s = StoreSnapshot(
        UUID(int=i + 1), f"dealer-{i % 7}", lat, lng, 3000, (FulfilmentMode.DELIVERY,), StoreStatus.OPEN, True, HOURS
    )
    return replace(s, **changes)


def brute_force(stores, lat, lng):
    return sorted(haversine_m(lat, lng, s.lat, s.lng) for s in stores)


def random_stores(rng: random.Random, n: int) -> list[StoreSnapshot]:
    """Half spread over China, half clustered in a few cities (as real store networks are)."""
    cities = [(31.23, 121.47), (39.90, 116.40), (23.13, 113.26), (30.57, 104.07)]
    out = []
    for i in range(n):
        if i % 2:
            c = rng.choice(cities)
            out.append(snap(i, c[0] + rng.gauss(0, 0.05), c[1] + rng.gauss(0, 0.05)))
        else:
            out.append(snap(i, rng.uniform(18, 53), rng.uniform(74, 134)))
    return out


def test_nearest_equals_a_brute_force_scan_on_seeded_random_stores():
    rng = random.Random(20240304)
    stores = random_stores(rng, 3000)
    index = StoreIndex(stores)
    for _ in range(200):
        lat, lng = rng.uniform(18, 53), rng.uniform(74, 134)
        got = [n.distance_m for n in index.nearest(lat, lng, k=5)]
        assert got == pytest.approx(brute_force(stores, lat, lng)[:5], abs=TOLERANCE_M)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(china_lat, china_lng), min_size=1, max_size=80), china_lat, china_lng)
def test_iteration_yields_every_store_in_brute_force_order(points, lat, lng):
    stores = [snap(i, a, b) for i, (a, b) in enumerate(points)]
    got = [n.distance_m for n in StoreIndex(stores, leaf_size=4).iter_nearest(lat, lng)]
    assert got == pytest.approx(brute_force(stores, lat, lng), abs=TOLERANCE_M)


def test_stores_at_identical_coordinates_are_all_found():
    stores = [snap(i, 31.2, 121.4) for i in range(40)] + [snap(99, 31.3, 121.4)]
    found = StoreIndex(stores, leaf_size=4).nearest(31.2, 121.4, k=40)
    assert {n.store.store_id for n in found} == {s.store_id for s in stores[:40]}
    assert all(n.distance_m == 0 for n in found)


def test_max_distance_bounds_the_search_inclusively():
    stores = [snap(0, 31.0, 121.0), snap(1, 31.1, 121.0)]
    d = haversine_m(31.0, 121.0, 31.1, 121.0)
    index = StoreIndex(stores)
    assert len(list(index.iter_nearest(31.0, 121.0, max_distance_m=d))) == 2
    assert len(list(index.iter_nearest(31.0, 121.0, max_distance_m=d - 1))) == 1


def test_nearest_with_a_filter_skips_ineligible_stores():
    stores = [snap(0, 31.0, 121.0, status=StoreStatus.SUSPENDED), snap(1, 31.01, 121.0), snap(2, 31.02, 121.0)]
    found = StoreIndex(stores).nearest(31.0, 121.0, k=1, where=lambda s: s.status is StoreStatus.OPEN)
    assert [n.store.store_id for n in found] == [stores[1].store_id]


def test_an_empty_index_finds_nothing():
    assert StoreIndex().nearest(31.0, 121.0) == []


def test_upsert_remove_and_move_keep_results_equal_to_brute_force():
    rng = random.Random(7)
    stores = {s.store_id: s for s in random_stores(rng, 400)}
    index = StoreIndex(stores.values(), leaf_size=4)
    for step in range(3000):
        action = rng.random()
        if action < 0.4:  # open a new store
            s = snap(10_000 + step, rng.uniform(18, 53), rng.uniform(74, 134))
        elif action < 0.7 and stores:  # relocate one
            old = rng.choice(list(stores.values()))
            s = replace(old, lat=old.lat + rng.gauss(0, 0.1), lng=old.lng + rng.gauss(0, 0.1))
        elif stores:  # close one
            victim = rng.choice(list(stores))
            assert index.remove(victim)
            del stores[victim]
            continue
        index.upsert(s)
        stores[s.store_id] = s
        if step % 100 == 0:
            lat, lng = rng.uniform(18, 53), rng.uniform(74, 134)
            got = [n.distance_m for n in index.nearest(lat, lng, k=3)]
            assert got == pytest.approx(brute_force(stores.values(), lat, lng)[:3], abs=TOLERANCE_M)
    assert len(index) == len(stores)


def test_an_upsert_in_place_replaces_the_snapshot():
    index = StoreIndex([snap(0, 31.0, 121.0)])
    index.upsert(snap(0, 31.0, 121.0, status=StoreStatus.SUSPENDED, orders_today=3))
    assert index.nearest(31.0, 121.0)[0].store.status is StoreStatus.SUSPENDED
    assert len(index) == 1


def test_removing_an_unknown_store_reports_false():
    assert not StoreIndex().remove(UUID(int=1))


def test_rebuild_replaces_the_contents():
    index = StoreIndex([snap(0, 31.0, 121.0)])
    index.rebuild([snap(1, 40.0, 116.0)])
    assert [n.store.store_id for n in index.nearest(31.0, 121.0)] == [UUID(int=2)]
    assert UUID(int=1) not in index

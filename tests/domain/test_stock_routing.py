"""Routing with stock against a brute-force reference on generated cities of stores."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.attribution import AttributionPolicy, StockFallback
from domain.geo import Location, haversine_m
from domain.routing import (
    OrderFacts,
    Rejection,
    StepReason,
    StockNeed,
    StoreSnapshot,
    UnallocatedReason,
    decide,
)
from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus

AT = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)
CUSTOMER = Location(31.2304, 121.4737)
SKUS = ("A", "B", "C", "D")


def city(seed: int, n: int = 10):
    """``n`` stores within ~6 km of the customer, each holding a random few units of a random few SKUs."""
    rnd = random.Random(seed)
    stores, stock = [], {}
    for i in range(n):
        s = StoreSnapshot(
            store_id=UUID(int=i + 1),
            dealer_id=f"D{i % 3}",
            lat=CUSTOMER.lat + rnd.uniform(-0.05, 0.05),
            lng=CUSTOMER.lng + rnd.uniform(-0.05, 0.05),
            service_radius_m=rnd.choice((1500, 3000, 8000)),
            modes=tuple(FulfilmentMode),
            status=StoreStatus.OPEN,
            online_orders_enabled=True,
            hours=OpeningHours.always("Asia/Shanghai"),
        )
        stores.append(s)
        stock[s.store_id] = {sku: rnd.randint(0, 3) for sku in rnd.sample(SKUS, rnd.randint(0, 3))}
    return stores, stock


def distance(s: StoreSnapshot) -> float:
    return haversine_m(CUSTOMER.lat, CUSTOMER.lng, s.lat, s.lng)


def holds(stock, store, need: StockNeed) -> bool:
    return stock.get(store.store_id, {}).get(need.sku, 0) >= need.qty


def reference(stores, stock, needs, policy: AttributionPolicy):
    """Brute force: the nearest in-radius store holding every line; else by the fallback, over every subset."""
    key = lambda s: (distance(s), str(s.store_id))  # noqa: E731
    eligible = sorted(
        (s for s in stores if round(distance(s), 3) <= s.service_radius_m and all(holds(stock, s, n) for n in needs)),
        key=key,
    )
    if eligible:
        return ("store", eligible[0].store_id)
    if policy.stock_fallback is StockFallback.UNALLOCATED:
        return ("none", None)
    near_enough = [s for s in stores if round(distance(s), 3) <= policy.stock_max_distance_m]
    whole = sorted((s for s in near_enough if all(holds(stock, s, n) for n in needs)), key=key)
    if whole:
        return ("store", whole[0].store_id)
    if policy.stock_fallback is StockFallback.NEAREST_IN_STOCK:
        return ("none", None)
    best = None
    for mask in range(1, 1 << len(near_enough)):
        chosen = [s for i, s in enumerate(near_enough) if mask >> i & 1]
        if all(any(holds(stock, s, n) for s in chosen) for n in needs):
            k = (len(chosen), sum(distance(s) for s in chosen), tuple(sorted(str(s.store_id) for s in chosen)))
            best = min(best, (k, chosen)) if best else (k, chosen)
    if best is None:
        return ("none", None)
    return ("split", frozenset(s.store_id for s in best[1]))


needs_strategy = st.lists(
    st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1, max_size=4, unique_by=lambda t: t[0]
).map(lambda ts: tuple(StockNeed(s, q) for s, q in ts))


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    needs=needs_strategy,
    fallback=st.sampled_from(list(StockFallback)),
    reach=st.sampled_from((2_000, 5_000, 20_000)),
)
def test_routing_with_stock_matches_the_brute_force_reference(seed, needs, fallback, reach):
    stores, stock = city(seed)
    policy = AttributionPolicy(stock_fallback=fallback, stock_max_distance_m=reach, tie_tolerance_m=0)
    facts = OrderFacts(UUID(int=seed), FulfilmentMode.DELIVERY, CUSTOMER, needs=needs)

    decision = decide(facts, stores, policy, AT, stock=stock)

    expected = reference(stores, stock, needs, policy)
    if expected[0] == "store":
        assert decision.store_id == expected[1]
    elif expected[0] == "split":
        assert decision.unallocated_reason is UnallocatedReason.SPLIT
        assert frozenset(p.store_id for p in decision.split) == expected[1]
        assigned = [n for p in decision.split for n in p.needs]
        assert sorted(assigned, key=lambda n: n.sku) == sorted(needs, key=lambda n: n.sku)  # every line once
        for p in decision.split:
            assert all(holds(stock, next(s for s in stores if s.store_id == p.store_id), n) for n in p.needs)
            assert p.dealer_id == next(s.dealer_id for s in stores if s.store_id == p.store_id)
    else:
        assert decision.store_id is None and decision.unallocated_reason is not UnallocatedReason.SPLIT
    # every store refused for stock says so
    for c in decision.candidates:
        lacking = not all(holds(stock, next(s for s in stores if s.store_id == c.store_id), n) for n in needs)
        assert (Rejection.OUT_OF_STOCK in c.rejections) == lacking


def test_a_store_without_every_line_is_refused_out_of_stock_and_the_next_one_chosen():
    stores, _ = city(1, 2)
    near, far = sorted(stores, key=distance)
    near, far = replace(near, service_radius_m=50_000), replace(far, service_radius_m=50_000)
    stock = {near.store_id: {"A": 1}, far.store_id: {"A": 5}}
    facts = OrderFacts(UUID(int=9), FulfilmentMode.DELIVERY, CUSTOMER, needs=(StockNeed("A", 2),))
    d = decide(facts, [near, far], AttributionPolicy(), AT, stock=stock)
    assert d.store_id == far.store_id
    assert d.candidates[0].rejections == (Rejection.OUT_OF_STOCK,)


def test_the_nearest_in_stock_fallback_is_explained():
    stores, _ = city(2, 2)
    near, far = sorted(stores, key=distance)
    near, far = replace(near, service_radius_m=50_000), replace(far, service_radius_m=1)
    stock = {far.store_id: {"A": 5}}
    facts = OrderFacts(UUID(int=9), FulfilmentMode.DELIVERY, CUSTOMER, needs=(StockNeed("A", 2),))
    policy = AttributionPolicy(stock_fallback=StockFallback.NEAREST_IN_STOCK, stock_max_distance_m=0)
    d = decide(facts, [near, far], policy, AT, stock=stock)
    assert d.store_id == far.store_id and d.explanation[-1].reason is StepReason.NEAREST_IN_STOCK
    d = decide(facts, [near, far], replace(policy, stock_fallback=StockFallback.UNALLOCATED), AT, stock=stock)
    assert d.store_id is None and d.unallocated_reason is UnallocatedReason.NO_ELIGIBLE_STORE


def test_an_order_without_tracked_lines_routes_as_before():
    stores, stock = city(3)
    facts = OrderFacts(UUID(int=9), FulfilmentMode.PICKUP, CUSTOMER)
    assert decide(facts, stores, AttributionPolicy(), AT, stock=stock) == decide(facts, stores, AttributionPolicy(), AT)


@pytest.mark.parametrize("seed", range(3))
def test_a_split_credits_each_part_to_its_own_stores_dealer(seed):
    stores, _ = city(seed, 3)
    stores = [replace(s, service_radius_m=1, dealer_id=f"dealer-{i}") for i, s in enumerate(stores)]
    stock = {stores[0].store_id: {"A": 1}, stores[1].store_id: {"B": 1}, stores[2].store_id: {"C": 1}}
    needs = (StockNeed("A", 1), StockNeed("B", 1))
    policy = AttributionPolicy(stock_fallback=StockFallback.SPLIT, stock_max_distance_m=0)
    d = decide(OrderFacts(UUID(int=1), FulfilmentMode.DELIVERY, CUSTOMER, needs=needs), stores, policy, AT, stock=stock)
    assert {(p.dealer_id, p.needs) for p in d.split} == {("dealer-0", (needs[0],)), ("dealer-1", (needs[1],))}

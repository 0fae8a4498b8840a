"""The stock directory's memory bound: compact rows, the least recently used dropped past the bound, and routing
that reads a dropped figure afresh instead of taking it for zero; which stores count which SKU is never dropped, so
the stock fallback is still offered a holder whose rows were: with any bound, routing decides as without one."""

from __future__ import annotations

import asyncio
import gc
import random
import tracemalloc
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.admission import Admission, Budget
from application.clock import ManualClock
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.stock import StockLine, StockService
from application.stock_directory import COUNTED_BYTES, ROW_BYTES, SKU_BYTES, StockDirectory
from application.store_directory import StoreDirectory
from application.stores import StoreService, StoreSpec
from application.unit_of_work import CommandRunner
from domain.attribution import StockFallback
from domain.errors import RuleViolation
from domain.geo import CoordSystem, Location
from domain.order import OrderLine
from domain.routing import Rejection, RoutingDecision, UnallocatedReason
from domain.stock import StoreStock
from domain.store_values import FulfilmentMode, OpeningHours
from infrastructure.mapper import build_mapper
from tests.application.conftest import START
from tests.application.fakes import InMemoryStore
from tests.application.test_orders import CUSTOMER, spec
from tests.application.test_stock import draft

ROWS_KEPT = 3


async def test_the_directory_keeps_to_its_bound_and_routing_reads_dropped_figures_afresh():
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper), admission=Admission(Budget(5000, 5000)))
    programmes = ProgrammeCatalog(runner, clock)
    directory = StoreDirectory(store, mapper)
    budget = ROWS_KEPT * ROW_BYTES + 12 * COUNTED_BYTES + 2 * SKU_BYTES  # the rows, and who counts what
    view = StockDirectory(store, mapper, max_bytes=budget)
    stores, stock = StoreService(runner, clock, programmes), StockService(runner, clock, programmes, view)
    orders = OrderService(runner, clock, programmes, directory, view)
    # six stores, the nearest first; each counts SKU-1 (the nearest only one unit) and SKU-2
    opened = [
        await stores.open("acme", spec(f"S-{i}", Location(31.2310 + 0.001 * i, 121.4740, CoordSystem.GCJ02)))
        for i in range(6)
    ]
    for i, s in enumerate(opened):  # one import per store, the nearest first: its rows are the least recent
        await stock.import_counts(
            "acme",
            f"opening-{i}",
            [StockLine(s.id, "SKU-1", count=1 if i == 0 else 5), StockLine(s.id, "SKU-2", count=2)],
        )
    await directory.catch_up()
    await view.catch_up()

    assert view.usage == (ROWS_KEPT, budget) and view.dropped == 12 - ROWS_KEPT
    nearest = opened[0].id
    assert view.unknown(nearest, ["SKU-1"], "acme")  # its row was among the first dropped: unknown, not zero
    assert view.tracked("acme", "SKU-1")  # what is tracked is never dropped: orders still reserve

    member = await MemberService(runner, clock, programmes).register("acme", "o-1")
    simulated = await orders.simulate(draft(member.id, OrderLine("SKU-1", 1, 100)))
    assert simulated.store_id == nearest  # read afresh: it holds one unit
    order = await orders.place(draft(member.id, OrderLine("SKU-1", 1, 100)))
    assert order.store_id == nearest and order.decision.needs[0].qty == 1
    assert (await stock.get(nearest, "SKU-1")).reserved == 1
    await view.catch_up()
    assert view.usage[1] <= budget
    assert view.figures([nearest], ["SKU-1"]) == {nearest: {"SKU-1": 0}}  # brought back, with the reservation

    second = await orders.place(draft(member.id, OrderLine("SKU-1", 1, 100)))
    assert second.store_id != nearest  # the nearest has none left: the next store takes it
    assert view.usage[1] <= budget

    listed = await stock.levels(opened[3].id)  # every SKU of a store, though the directory dropped rows
    assert [(s.sku, s.on_hand) for s in listed] == [("SKU-1", 5), ("SKU-2", 2)]


async def test_a_row_takes_no_more_memory_than_the_estimate_the_bound_counts():
    store, mapper = InMemoryStore(), build_mapper({})
    at = datetime(2026, 11, 2, tzinfo=UTC)
    stocks = []
    for i in range(2000):  # the dearest case: one SKU a store (each its own figures), a count and a reservation
        s = StoreStock.open(brand="acme", store_id=UUID(int=i + 1), sku=f"SKU-{i % 4:05d}", at=at)
        s.adjust("b", at, count=10)
        s.reserve(UUID(int=10**6 + i), 1, datetime(2026, 11, 3, tzinfo=UTC), at)
        stocks.append(s)
    await Repository(store, mapper).save(*stocks)
    view = StockDirectory(store, mapper)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await view.catch_up()  # rows made from the events, as the server's follower makes them
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert view.usage == (2000, 2000 * (ROW_BYTES + COUNTED_BYTES) + 4 * SKU_BYTES)
    assert used <= 2000 * ROW_BYTES, f"{used / 2000:.0f} bytes a row, above ROW_BYTES"


@dataclass
class World:
    """Two routers over one log: one with a bounded stock directory, one with an unbounded one."""

    clock: ManualClock
    directory: StoreDirectory
    bounded: StockDirectory
    unbounded: StockDirectory
    stores: StoreService
    stock: StockService
    members: MemberService
    programmes: ProgrammeCatalog
    orders: OrderService  # routes with the bounded directory
    reference: OrderService  # routes with the unbounded one

    async def catch_up(self) -> None:
        await self.directory.catch_up()
        await self.bounded.catch_up()
        await self.unbounded.catch_up()

    async def fallback(self, fallback: StockFallback, reach_m: int) -> None:
        current = await self.programmes.current("acme")
        attribution = replace(
            current.attribution, stock_fallback=fallback, stock_max_distance_m=reach_m, tie_tolerance_m=0
        )
        await self.programmes.publish(replace(current, version=current.version + 1, attribution=attribution))


def world(max_bytes: int) -> World:
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper), admission=Admission(Budget(5000, 5000)))
    programmes = ProgrammeCatalog(runner, clock)
    directory = StoreDirectory(store, mapper)
    bounded, unbounded = StockDirectory(store, mapper, max_bytes=max_bytes), StockDirectory(store, mapper)
    return World(
        clock,
        directory,
        bounded,
        unbounded,
        StoreService(runner, clock, programmes),
        StockService(runner, clock, programmes, bounded),
        MemberService(runner, clock, programmes),
        programmes,
        OrderService(runner, clock, programmes, directory, bounded),
        OrderService(runner, clock, programmes, directory, unbounded),
    )


def store_at(code: str, lat: float, lng: float, radius_m: int = 5000, dealer: str = "D1") -> StoreSpec:
    return StoreSpec(
        code=code,
        name=f"Store {code}",
        dealer_id=dealer,
        location=Location(lat, lng, CoordSystem.GCJ02),
        service_radius_m=radius_m,
        modes=(FulfilmentMode.DELIVERY, FulfilmentMode.PICKUP),
        hours=OpeningHours.always("Asia/Shanghai"),
    )


def shape(decision: RoutingDecision) -> tuple:
    """What a decision decides and shows, without the order's own id (a simulation draws a new one each time)."""
    return (
        decision.store_id,
        decision.dealer_id,
        decision.attributed_by,
        decision.unallocated_reason,
        decision.needs,
        decision.candidates,
        decision.explanation,
        tuple((p.store_id, p.dealer_id, p.distance_m, p.needs) for p in decision.split),
    )


async def test_a_holder_whose_rows_were_all_dropped_is_still_offered_to_the_stock_fallback():
    w = world(max_bytes=2 * ROW_BYTES)  # a couple of rows at most: the least recent are dropped
    # the only store holding SKU-1: 9 km north, beyond every store's delivery radius (the nearest stores' scan)
    holder = await w.stores.open("acme", store_at("S-H", 31.3110, 121.4740, dealer="D9"))
    await w.stock.import_counts("acme", "holder", [StockLine(holder.id, "SKU-1", count=3)])
    near = [await w.stores.open("acme", store_at(f"S-{i}", 31.2310 + 0.001 * i, 121.4740)) for i in range(4)]
    for i, s in enumerate(near):  # counted after the holder's: its row is the least recent, dropped first
        await w.stock.import_counts(
            "acme", f"near-{i}", [StockLine(s.id, "SKU-1", count=0), StockLine(s.id, "SKU-2", count=5)]
        )
    await w.fallback(StockFallback.NEAREST_IN_STOCK, 20_000)
    await w.catch_up()
    assert w.bounded.dropped and w.bounded.figures([holder.id], ["SKU-1"]) == {holder.id: {"SKU-1": 0}}
    member = await w.members.register("acme", "o-1")
    order = draft(member.id, OrderLine("SKU-1", 2, 100))

    expected = await w.reference.simulate(order)
    assert expected.store_id == holder.id  # the unbounded directory: the nearest store in stock, by the fallback
    assert shape(await w.orders.simulate(order)) == shape(expected)
    placed = await w.orders.place(order)
    assert (placed.store_id, placed.dealer_id) == (holder.id, "D9")
    assert (await w.stock.get(holder.id, "SKU-1")).reserved == 2


async def test_the_bound_counts_the_index_of_counting_stores_and_levels_list_only_what_a_store_counts():
    w = world(max_bytes=0)  # every row dropped at once: only the never-dropped index is left
    a = await w.stores.open("acme", store_at("S-A", 31.2310, 121.4740))
    b = await w.stores.open("acme", store_at("S-B", 31.2320, 121.4740))
    await w.stock.import_counts(
        "acme", "opening", [StockLine(a.id, "SKU-1", count=1), StockLine(a.id, "SKU-2", count=2)]
    )
    await w.stock.import_counts("acme", "b", [StockLine(b.id, "SKU-3", count=4)])
    await w.catch_up()
    assert w.bounded.usage == (0, 3 * COUNTED_BYTES + 3 * SKU_BYTES)
    assert w.bounded.tracked_skus("acme") == ["SKU-1", "SKU-2", "SKU-3"]
    assert w.bounded.unknown(a.id, ["SKU-1"], "acme") and not w.bounded.unknown(b.id, ["SKU-1"], "acme")
    assert w.bounded.stores_holding("acme", ["SKU-1"]) == {a.id}  # may hold: routing reads it when it matters
    assert w.bounded.stores_holding("acme", ["SKU-1"], {a.id: {"SKU-1": 0}}) == set()  # read afresh: none
    assert [(s.sku, s.on_hand) for s in await w.stock.levels(b.id)] == [("SKU-3", 4)]


@pytest.mark.parametrize("skus", [1, 100, 400, 2000])  # thousands of stores a SKU ... one store a SKU
async def test_the_index_of_counting_stores_takes_no_more_memory_than_the_bound_counts(skus):
    store, mapper = InMemoryStore(), build_mapper({})
    at = datetime(2026, 11, 2, tzinfo=UTC)
    stocks = [
        StoreStock.open(brand="acme", store_id=UUID(int=i + 1), sku=f"SKU-{i % skus:05d}", at=at) for i in range(2000)
    ]
    await Repository(store, mapper).save(*stocks)
    view = StockDirectory(store, mapper, max_bytes=0)  # every row dropped: the index alone is left
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await view.catch_up()
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert view.usage == (0, 2000 * COUNTED_BYTES + skus * SKU_BYTES)
    assert used <= view.usage[1], f"{used} bytes, above the {view.usage[1]} the bound counts"


SKUS = ("A", "B", "C")


async def decisions_agree(seed: int, max_bytes: int, fallback: StockFallback, orders: list[dict[str, int]]) -> None:
    rnd = random.Random(seed)
    w = world(max_bytes)
    opened = []
    for i in range(10):  # within ~9 km of the customer; some beyond every radius, reachable by the fallback only
        spec_ = store_at(
            f"S-{i}",
            CUSTOMER.lat + rnd.uniform(-0.08, 0.08),
            CUSTOMER.lng + rnd.uniform(-0.08, 0.08),
            radius_m=rnd.choice((1500, 3000, 5000)),
            dealer=f"D{i % 3}",
        )
        opened.append(await w.stores.open("acme", spec_))
    for i, s in enumerate(opened):
        counts = [StockLine(s.id, sku, count=rnd.randint(0, 3)) for sku in rnd.sample(SKUS, rnd.randint(0, 3))]
        if counts:
            await w.stock.import_counts("acme", f"opening-{i}", counts)
    await w.fallback(fallback, rnd.choice((0, 5_000, 20_000)))
    member = await w.members.register("acme", "o-1")
    for needs in orders:
        await w.catch_up()
        order = draft(member.id, *(OrderLine(sku, qty, 100) for sku, qty in sorted(needs.items())))
        expected = await w.reference.simulate(order)
        assert shape(await w.orders.simulate(order)) == shape(expected)
        try:
            placed = await w.orders.place(order)  # changes the stock the next order is routed on
        except RuleViolation as e:
            assert e.reason == "OUT_OF_STOCK"
            assert all(Rejection.OUT_OF_STOCK in c.rejections for c in expected.candidates)
        else:  # placed where it was simulated (a split: its first part goes to the first part's store)
            split = expected.unallocated_reason is UnallocatedReason.SPLIT
            assert placed.store_id == (expected.split[0].store_id if split else expected.store_id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    max_bytes=st.integers(0, 30 * ROW_BYTES),
    fallback=st.sampled_from(list(StockFallback)),
    orders=st.lists(
        st.dictionaries(st.sampled_from(SKUS), st.integers(1, 3), min_size=1, max_size=3), min_size=1, max_size=4
    ),
)
def test_with_any_bound_routing_decides_as_with_an_unbounded_directory(seed, max_bytes, fallback, orders):
    asyncio.run(decisions_agree(seed, max_bytes, fallback, orders))

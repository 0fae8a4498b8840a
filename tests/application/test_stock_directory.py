"""The stock directory's memory bound: compact rows, the least recently used dropped past the bound, and routing
that reads a dropped figure afresh instead of taking it for zero."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime
from uuid import UUID

from application.admission import Admission, Budget
from application.clock import ManualClock
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.stock import StockLine, StockService
from application.stock_directory import ROW_BYTES, StockDirectory
from application.store_directory import StoreDirectory
from application.stores import StoreService
from application.unit_of_work import CommandRunner
from domain.geo import CoordSystem, Location
from domain.order import OrderLine
from domain.stock import StoreStock
from infrastructure.mapper import build_mapper
from tests.application.conftest import START
from tests.application.fakes import InMemoryStore
from tests.application.test_orders import spec
from tests.application.test_stock import draft

ROWS_KEPT = 3


async def test_the_directory_keeps_to_its_bound_and_routing_reads_dropped_figures_afresh():
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper), admission=Admission(Budget(5000, 5000)))
    programmes = ProgrammeCatalog(runner, clock)
    directory = StoreDirectory(store, mapper)
    view = StockDirectory(store, mapper, max_bytes=ROWS_KEPT * ROW_BYTES)
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

    assert view.usage == (ROWS_KEPT, ROWS_KEPT * ROW_BYTES) and view.dropped == 12 - ROWS_KEPT
    nearest = opened[0].id
    assert view.unknown(nearest, ["SKU-1"])  # its row was among the first dropped: unknown, not zero
    assert view.tracked("acme", "SKU-1")  # what is tracked is never dropped: orders still reserve

    member = await MemberService(runner, clock, programmes).register("acme", "o-1")
    simulated = await orders.simulate(draft(member.id, OrderLine("SKU-1", 1, 100)))
    assert simulated.store_id == nearest  # read afresh: it holds one unit
    order = await orders.place(draft(member.id, OrderLine("SKU-1", 1, 100)))
    assert order.store_id == nearest and order.decision.needs[0].qty == 1
    assert (await stock.get(nearest, "SKU-1")).reserved == 1
    await view.catch_up()
    assert view.usage[1] <= ROWS_KEPT * ROW_BYTES
    assert view.figures([nearest], ["SKU-1"]) == {nearest: {"SKU-1": 0}}  # brought back, with the reservation

    second = await orders.place(draft(member.id, OrderLine("SKU-1", 1, 100)))
    assert second.store_id != nearest  # the nearest has none left: the next store takes it
    assert view.usage[1] <= ROWS_KEPT * ROW_BYTES

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
    assert view.usage == (2000, 2000 * ROW_BYTES)
    assert used <= 2000 * ROW_BYTES, f"{used / 2000:.0f} bytes a row, above ROW_BYTES"

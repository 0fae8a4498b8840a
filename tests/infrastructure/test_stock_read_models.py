"""The stock-level and drop-result read models show what the aggregates hold, live and rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from application.projection import AnyProjection
from application.repository import Repository
from domain.drop import Drop
from domain.stock import Protection, StoreStock
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.projections.stock_levels import DropResults, StockLevels
from infrastructure.rebuild import rebuild
from tests.infrastructure.test_snapshots import drop_workload, stock_workload

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


async def rows(store: EventStore, query: str) -> list[tuple]:
    return sorted(tuple(r) for r in await store.pool.fetch(query))


async def applied(store: EventStore, projection: Any, events: list[Any], size: int | None = None) -> None:
    """The projection's tables made afresh from ``events``: one at a time through ``handle``, or ``size`` at a
    time through ``handle_many``."""
    async with store.pool.acquire() as conn:
        await projection.reset(conn)
        await projection.setup(conn)
        if size is None:
            for e in events:
                await projection.handle(conn, e, 0)
        else:
            for i in range(0, len(events), size):
                await projection.handle_many(conn, events[i : i + size])


async def test_the_read_models_match_the_aggregates_and_a_rebuild(store: EventStore) -> None:
    (stock,), (drop, entry) = stock_workload(), drop_workload()
    assert isinstance(stock, StoreStock) and isinstance(drop, Drop)
    await Repository(store, build_mapper({})).save(stock, drop, entry)
    projections: list[AnyProjection] = [StockLevels(), DropResults()]
    runner = ProjectionRunner(store, projections, build_mapper({}), batch_size=3)
    await runner.setup()
    await runner.catch_up()

    levels = await rows(
        store, "SELECT on_hand, reserved, consumed, sold_in_store, protected, available_online FROM stock_levels_view"
    )
    assert levels == [
        (stock.on_hand, stock.reserved, stock.consumed, stock.sold_in_store, stock.protected, stock.available_online)
    ]
    holds = await rows(store, "SELECT stock_id, order_id, expires_at FROM stock_holds")
    assert holds == sorted((stock.id, r.order_id, r.expires_at) for r in stock.reservations.values() if not r.committed)
    assert len(holds) == 1  # the workload leaves one hold unpaid: the one the scheduler's sweep would look at

    async def offers_match() -> list[tuple]:
        offers = await rows(store, "SELECT member_id, units, state, order_id FROM drop_offers")
        expected = sorted(
            (o.member_id, o.units, "CLAIMED" if o.claimed else "LAPSED" if o.lapsed else "WON", o.holding_order)
            for o in drop.offers.values()
        )
        assert offers == expected
        return offers

    offers = await offers_match()
    assert {state for _, _, state, _ in offers} >= {"CLAIMED", "LAPSED", "WON"}
    assert any(o.order_id is not None and o.lapsed for o in drop.offers.values())  # released: named no more
    assert sum(order is not None for *_, order in offers) == 1  # the one live claim's order
    # the released claim's unit, passed on, is claimed: its row names the new order
    (passed_on,) = [o for o in drop.offers.values() if not o.claimed and not o.lapsed and o.store_id is None]
    drop.claim(passed_on.member_id, uuid5(NAMESPACE_URL, "d-o3"), passed_on.expires_at - timedelta(minutes=1))
    await Repository(store, build_mapper({})).save(drop)
    await runner.catch_up()
    assert sum(order is not None for *_, order in await offers_match()) == 2

    tables = ("stock_levels", "stock_holds", "drop_offers")
    live = [await rows(store, f"SELECT * FROM {t}") for t in tables]
    for projection in projections:
        await rebuild(store, projection, build_mapper({}), batch_size=2, out=None)
    assert [await rows(store, f"SELECT * FROM {t}") for t in tables] == live


async def test_the_drop_results_setup_adds_the_order_column_to_a_table_made_before_it(store: EventStore) -> None:
    """A table made before ``order_id`` existed (its rows kept) gets the column from ``setup``, run any number of
    times; rows claimed before it name no order until the read model is rebuilt."""
    drop_id, member_id = uuid5(NAMESPACE_URL, "old-drop"), uuid5(NAMESPACE_URL, "old-member")
    async with store.pool.acquire() as conn:
        await DropResults().reset(conn)
        await conn.execute(
            """CREATE TABLE drop_offers (
                drop_id uuid NOT NULL, member_id uuid NOT NULL, store_id uuid, units bigint NOT NULL,
                expires_at timestamptz NOT NULL, state text NOT NULL, offered_at timestamptz NOT NULL,
                PRIMARY KEY (drop_id, member_id))"""
        )
        await conn.execute(
            "INSERT INTO drop_offers VALUES ($1, $2, NULL, 1, $3, 'CLAIMED', $3)", drop_id, member_id, T0
        )
        for _ in range(2):
            await DropResults().setup(conn)
    assert await rows(store, "SELECT member_id, state, order_id FROM drop_offers") == [(member_id, "CLAIMED", None)]


async def test_a_batch_of_stock_events_leaves_the_tables_as_handling_them_one_by_one(store: EventStore) -> None:
    """``StockLevels.handle_many`` (the runner's path: three statements a batch) against ``handle`` (two a
    reservation): the same rows for every way of cutting two stocks' interleaved events into batches, including
    batches that open a stock, reserve and release one order, or commit and consume it."""
    (first,) = stock_workload()
    assert isinstance(first, StoreStock)
    other = StoreStock.open(brand="acme", store_id=first.store_id, sku="SKU-2", at=T0)
    other.adjust("import-2", T0, count=5)
    a, b = uuid5(NAMESPACE_URL, "hold-a"), uuid5(NAMESPACE_URL, "hold-b")
    other.reserve(a, 1, T0 + timedelta(hours=1), T0)
    other.release(a, "CANCELLED", T0)  # reserved and released: no hold left
    other.reserve(b, 2, T0 + timedelta(hours=2), T0)
    other.protect(Protection(floor_units=1), T0)
    mine, theirs = list(first.collect_events()), list(other.collect_events())
    events = [e for pair in zip(mine, theirs, strict=False) for e in pair] + mine[len(theirs) :] + theirs[len(mine) :]
    projection = StockLevels()
    tables = ("stock_levels", "stock_holds")

    async def state() -> list[list[tuple]]:
        return [await rows(store, f"SELECT * FROM {t}") for t in tables]

    await applied(store, projection, events)
    expected = await state()
    assert len(expected[0]) == 2 and len(expected[1]) == 2  # two stocks; first's unpaid hold and b
    for size in (1, 2, 3, 5, len(events)):
        await applied(store, projection, events, size)
        async with store.pool.acquire() as conn:
            await projection.handle_many(conn, [e for e in events[:6] if not isinstance(e, StoreStock.Reserved)])
        assert await state() == expected, size  # and a batch applied already changes no level (version guard)


async def test_a_batch_of_order_events_leaves_due_payments_as_handling_them_one_by_one(store: EventStore) -> None:
    """``DuePayments.handle_many`` against ``handle``: orders with a payment time placed, timed out, cancelled (one
    placed and cancelled in the same batch when the batch is long enough), and one without a payment time."""
    from domain.geo import Location
    from domain.order import Order, OrderLine
    from domain.store_values import FulfilmentMode
    from infrastructure.projections.due_work import DuePayments

    def placed(n: int, due: bool) -> Order:
        return Order.place(
            member_id=uuid5(NAMESPACE_URL, f"m-{n}"),
            brand="acme",
            mode=FulfilmentMode.DELIVERY,
            customer_location=Location(31.23, 121.47),
            lines=(OrderLine("SKU-1", 1, 100),),
            at=T0,
            payment_due_at=T0 + timedelta(hours=2) if due else None,
            id=uuid5(NAMESPACE_URL, f"o-{n}"),
        )

    orders = [placed(n, due=n != 3) for n in range(6)]
    orders[1].cancel_unpaid(T0 + timedelta(hours=3))  # Paid and Cancelled both end the wait: one path
    orders[2].cancel("CHANGED_MIND", T0 + timedelta(minutes=6))
    orders[4].cancel("CHANGED_MIND", T0 + timedelta(minutes=7))
    events = [e for o in orders for e in o.collect_events()]
    projection = DuePayments()

    async def state() -> list[tuple]:
        return await rows(store, "SELECT * FROM due_payments")

    await applied(store, projection, events)
    expected = await state()
    assert sorted(order_id for order_id, _ in expected) == sorted(orders[n].id for n in (0, 5))
    for size in (1, 2, 3, len(events)):
        await applied(store, projection, events, size)
        assert await state() == expected, size
